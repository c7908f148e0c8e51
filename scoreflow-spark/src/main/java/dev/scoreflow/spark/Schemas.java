package dev.scoreflow.spark;

import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

import java.util.Arrays;

/** Schema checks shared by the stages, with errors that name the column and what is in the data. */
final class Schemas {
    private Schemas() {
    }

    static StructField field(StructType schema, String name, String param) {
        for (StructField f : schema.fields()) {
            if (f.name().equals(name)) {
                return f;
            }
        }
        throw new IllegalArgumentException(param + " '" + name + "' is not a column; columns: "
                + Arrays.toString(schema.fieldNames()));
    }

    /** Whether a column can hold feature vectors: array of float/double, or an ML Vector. */
    static boolean isFeatures(DataType t) {
        if (t instanceof ArrayType a) {
            return a.elementType().equals(DataTypes.FloatType) || a.elementType().equals(DataTypes.DoubleType);
        }
        return t.equals(SQLDataTypes.VectorType());
    }
}
