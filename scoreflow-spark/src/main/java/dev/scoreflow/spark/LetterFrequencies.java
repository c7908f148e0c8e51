package dev.scoreflow.spark;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * The seed article's featurizer as a Spark ML stage: text to its 26 Latin-letter frequencies (a..z, case folded;
 * other characters ignored; each count divided by the number of Latin letters, all zeros for a text without any).
 * This is how the bundled example model was trained. Usable in a {@code Pipeline}, saved and loaded like any stage.
 */
public final class LetterFrequencies extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    /** Features produced per text. */
    public static final int FEATURES = 26;

    private final String uid;
    private final Param<String> inputCol;
    private final Param<String> outputCol;

    public LetterFrequencies() {
        this(Identifiable$.MODULE$.randomUID("letterFrequencies"));
    }

    public LetterFrequencies(String uid) {
        this.uid = uid;
        inputCol = new Param<>(this, "inputCol", "text column to featurize");
        outputCol = new Param<>(this, "outputCol", "array<float> column of 26 letter frequencies");
        setDefault(inputCol, "text");
        setDefault(outputCol, "features");
    }

    /** The frequencies of a..z in {@code text}. */
    public static float[] of(String text) {
        float[] f = new float[FEATURES];
        if (text == null) {
            return f;
        }
        int letters = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int k = c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? c - 'A' : -1;
            if (k >= 0) {
                f[k]++;
                letters++;
            }
        }
        if (letters > 0) {
            for (int k = 0; k < FEATURES; k++) {
                f[k] /= letters;
            }
        }
        return f;
    }

    public Param<String> inputCol() {
        return inputCol;
    }

    public Param<String> outputCol() {
        return outputCol;
    }

    public LetterFrequencies setInputCol(String value) {
        set(inputCol, value);
        return this;
    }

    public LetterFrequencies setOutputCol(String value) {
        set(outputCol, value);
        return this;
    }

    @Override
    public String uid() {
        return uid;
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        transformSchema(dataset.schema());
        UDF1<String, float[]> featurize = LetterFrequencies::of;
        return dataset.withColumn($(outputCol), functions.udf(featurize,
                DataTypes.createArrayType(DataTypes.FloatType, false)).apply(dataset.col($(inputCol))));
    }

    @Override
    public StructType transformSchema(StructType schema) {
        String in = $(inputCol);
        StructField field = Schemas.field(schema, in, "inputCol");
        if (!field.dataType().equals(DataTypes.StringType)) {
            throw new IllegalArgumentException("inputCol '" + in + "' must be a string column, it is "
                    + field.dataType().simpleString());
        }
        if (java.util.Arrays.asList(schema.fieldNames()).contains($(outputCol))) {
            throw new IllegalArgumentException("outputCol '" + $(outputCol) + "' already exists");
        }
        return schema.add($(outputCol), DataTypes.createArrayType(DataTypes.FloatType, false), false);
    }

    @Override
    public LetterFrequencies copy(ParamMap extra) {
        return defaultCopy(extra);
    }

    /** Reads a saved stage ({@code Pipeline} loading finds this by reflection). */
    public static MLReader<LetterFrequencies> read() {
        return new DefaultParamsReader<>();
    }

    public static LetterFrequencies load(String path) {
        return read().load(path);
    }
}
