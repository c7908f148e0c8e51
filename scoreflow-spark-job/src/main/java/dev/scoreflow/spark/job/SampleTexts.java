package dev.scoreflow.spark.job;

import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.util.Iterator;
import java.util.SplittableRandom;

/**
 * A generated dataset for the demo and tests: {@code id}, {@code text} and {@code label} (1 for English-like text
 * made of common English words, 0 for letters drawn from a random distribution), 40-400 letters per text. Row
 * {@code i} depends only on {@code (seed, i)}, so any partitioning gives the same data.
 */
public final class SampleTexts {
    public static final StructType SCHEMA = new StructType().add("id", DataTypes.LongType, false)
            .add("text", DataTypes.StringType, false).add("label", DataTypes.IntegerType, false);

    private static final String[] WORDS = ("the of and to in is you that it he was for on are as with his they at be "
            + "this have from or one had by word but not what all were we when your can said there use an each which "
            + "she do how their if will up other about out many then them these so some her would make like him into "
            + "time has look two more write go see number no way could people my than first water been call who oil "
            + "its now find long down day did get come made may part over new sound take only little work know place "
            + "year live me back give most very after thing our just name good sentence man think say great where "
            + "help through much before line right too mean old any same tell boy follow came want show also around "
            + "form three small set put end does another well large must big even such because turn here why ask "
            + "went men read need land different home us move try kind hand picture again change off play spell air "
            + "away animal house point page letter mother answer found study still learn should america world")
            .split(" ");

    private SampleTexts() {
    }

    /** {@code rows} generated rows in {@code partitions} partitions; about half are English. */
    public static Dataset<Row> generate(SparkSession spark, long rows, int partitions, long seed) {
        MapPartitionsFunction<Long, Row> make = ids -> new Iterator<>() {
            @Override
            public boolean hasNext() {
                return ids.hasNext();
            }

            @Override
            public Row next() {
                long id = ids.next();
                SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + id);
                boolean english = r.nextBoolean();
                return RowFactory.create(id, english ? english(r) : random(r), english ? 1 : 0);
            }
        };
        return spark.range(0, rows, 1, partitions).as(Encoders.LONG()).mapPartitions(make, Encoders.row(SCHEMA));
    }

    private static String english(SplittableRandom r) {
        int letters = 40 + r.nextInt(361);
        StringBuilder s = new StringBuilder(letters + letters / 4);
        int count = 0;
        while (count < letters) {
            String w = WORDS[r.nextInt(WORDS.length)];
            if (s.length() > 0) {
                s.append(' ');
            }
            s.append(w);
            count += w.length();
        }
        return s.toString();
    }

    private static String random(SplittableRandom r) {
        double[] weights = new double[26];
        double sum = 0;
        for (int k = 0; k < 26; k++) {
            weights[k] = -Math.log(1 - r.nextDouble()); // Dirichlet(1): normalized exponentials
            sum += weights[k];
        }
        int letters = 40 + r.nextInt(361);
        StringBuilder s = new StringBuilder(letters + letters / 5);
        for (int i = 0; i < letters; i++) {
            double u = r.nextDouble() * sum;
            int k = 0;
            while (k < 25 && (u -= weights[k]) > 0) {
                k++;
            }
            s.append((char) ('a' + k));
            if (r.nextInt(6) == 0) {
                s.append(' ');
            }
        }
        return s.toString();
    }
}
