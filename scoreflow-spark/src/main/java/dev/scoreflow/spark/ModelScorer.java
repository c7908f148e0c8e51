package dev.scoreflow.spark;

import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;
import java.util.Locale;

/**
 * Scores a features column ({@code array<float>}, {@code array<double>} or ML {@code Vector}) with a model, into a
 * {@code score} column, a {@code prediction} column (1 when score >= threshold) when a threshold is set, and an
 * {@code error} column when {@code errorCol} is set (then a row that cannot be scored gets its error there and
 * null scores, instead of failing the task).
 *
 * <p>Two modes: <b>remote</b> ({@code endpoints} set) sends batches to Scoreflow (or any V2) servers through one
 * shared {@link dev.scoreflow.client.ScoringClient} per executor JVM, balanced, retried and back-pressured;
 * <b>in-process</b> ({@code modelPath} set) runs ONNX Runtime inside the executors, the model loaded once per
 * executor JVM. Usable in a {@code Pipeline}; saved and loaded like any stage (its params are plain values). Servers
 * that require a bearer token get it from {@code authTokenFile} or {@code authTokenEnv}, read on the driver: the
 * stage saves where the token is, never the token.
 */
public final class ModelScorer extends Transformer implements DefaultParamsWritable {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(ModelScorer.class);

    private final String uid;
    private final Param<String> featuresCol;
    private final Param<String> scoreCol;
    private final Param<String> predictionCol;
    private final Param<String> errorCol;
    private final DoubleParam threshold;
    private final Param<String> endpoints;
    private final Param<String> serverModel;
    private final Param<String> protocol;
    private final Param<String> modelPath;
    private final IntParam batchRows;
    private final IntParam maxInFlight;
    private final LongParam requestTimeoutMs;
    private final LongParam deadlineMs;
    private final Param<String> trustCertificates;
    private final Param<String> authTokenFile;
    private final Param<String> authTokenEnv;
    private transient LongAccumulator rowsScored;

    public ModelScorer() {
        this(Identifiable$.MODULE$.randomUID("modelScorer"));
    }

    public ModelScorer(String uid) {
        this.uid = uid;
        featuresCol = new Param<>(this, "featuresCol", "features column: array<float>, array<double> or Vector");
        scoreCol = new Param<>(this, "scoreCol", "output column of float scores");
        predictionCol = new Param<>(this, "predictionCol", "output column of int predictions, with a threshold");
        errorCol = new Param<>(this, "errorCol", "if set, output column of per-row errors instead of failing");
        threshold = new DoubleParam(this, "threshold", "prediction = score >= threshold; unset: no prediction");
        endpoints = new Param<>(this, "endpoints", "remote mode: comma-separated http://host:port of servers");
        serverModel = new Param<>(this, "serverModel", "remote mode: model name on the servers (unset: default)");
        protocol = new Param<>(this, "protocol", "remote mode: seed (binary, default) or v2",
                ParamValidators.inArray(new String[]{"seed", "v2"}));
        modelPath = new Param<>(this, "modelPath", "in-process mode: ONNX model file every executor can read");
        batchRows = new IntParam(this, "batchRows", "rows per request (or per in-process call)",
                ParamValidators.gtEq(1));
        maxInFlight = new IntParam(this, "maxInFlight", "remote mode: requests in flight per partition",
                ParamValidators.gtEq(1));
        requestTimeoutMs = new LongParam(this, "requestTimeoutMs", "remote mode: timeout of one attempt (ms)",
                ParamValidators.gtEq(1));
        deadlineMs = new LongParam(this, "deadlineMs", "remote mode: time a batch may take over all retries (ms)",
                ParamValidators.gtEq(1));
        trustCertificates = new Param<>(this, "trustCertificates", "remote mode, https endpoints: PEM file of "
                + "certificates to trust, readable on every executor (unset: the JVM's trust store)");
        authTokenFile = new Param<>(this, "authTokenFile", "remote mode: file whose first line is the bearer token "
                + "the servers require (scoreflow serve --auth-token-file), read on the driver");
        authTokenEnv = new Param<>(this, "authTokenEnv", "remote mode: environment variable of the driver that holds "
                + "the bearer token the servers require");
        setDefault(featuresCol, "features");
        setDefault(scoreCol, "score");
        setDefault(predictionCol, "prediction");
        setDefault(protocol, "seed");
        setDefault(batchRows, 1000);
        setDefault(maxInFlight, 8);
        setDefault(requestTimeoutMs, 30_000L);
        setDefault(deadlineMs, 300_000L);
    }

    // ------------------------------------------------------------------ params (public accessors: Spark finds
    // params by reflection on public no-argument methods)

    public Param<String> featuresCol() {
        return featuresCol;
    }

    public Param<String> scoreCol() {
        return scoreCol;
    }

    public Param<String> predictionCol() {
        return predictionCol;
    }

    public Param<String> errorCol() {
        return errorCol;
    }

    public DoubleParam threshold() {
        return threshold;
    }

    public Param<String> endpoints() {
        return endpoints;
    }

    public Param<String> serverModel() {
        return serverModel;
    }

    public Param<String> protocol() {
        return protocol;
    }

    public Param<String> modelPath() {
        return modelPath;
    }

    public IntParam batchRows() {
        return batchRows;
    }

    public IntParam maxInFlight() {
        return maxInFlight;
    }

    public LongParam requestTimeoutMs() {
        return requestTimeoutMs;
    }

    public LongParam deadlineMs() {
        return deadlineMs;
    }

    public Param<String> trustCertificates() {
        return trustCertificates;
    }

    public Param<String> authTokenFile() {
        return authTokenFile;
    }

    public Param<String> authTokenEnv() {
        return authTokenEnv;
    }

    /**
     * Remote mode: the servers' bearer token is the first line of this file, read on the driver when the stage
     * transforms. The stage saves the path, never the token.
     */
    public ModelScorer setAuthTokenFile(String v) {
        set(authTokenFile, v);
        return this;
    }

    /** Remote mode: the servers' bearer token is in this environment variable of the driver (saved: its name). */
    public ModelScorer setAuthTokenEnv(String v) {
        set(authTokenEnv, v);
        return this;
    }

    public ModelScorer setTrustCertificates(String v) {
        set(trustCertificates, v);
        return this;
    }

    public ModelScorer setFeaturesCol(String v) {
        set(featuresCol, v);
        return this;
    }

    public ModelScorer setScoreCol(String v) {
        set(scoreCol, v);
        return this;
    }

    public ModelScorer setPredictionCol(String v) {
        set(predictionCol, v);
        return this;
    }

    public ModelScorer setErrorCol(String v) {
        set(errorCol, v);
        return this;
    }

    public ModelScorer setThreshold(double v) {
        set(threshold, v);
        return this;
    }

    /** Remote mode: {@code http://host:port[,http://host2:port...]}. */
    public ModelScorer setEndpoints(String v) {
        set(endpoints, v);
        return this;
    }

    public ModelScorer setServerModel(String v) {
        set(serverModel, v);
        return this;
    }

    public ModelScorer setProtocol(String v) {
        set(protocol, v.toLowerCase(Locale.ROOT));
        return this;
    }

    /** In-process mode: the ONNX file ({@code model.json} beside it is read too). */
    public ModelScorer setModelPath(String v) {
        set(modelPath, v);
        return this;
    }

    public ModelScorer setBatchRows(int v) {
        set(batchRows, v);
        return this;
    }

    public ModelScorer setMaxInFlight(int v) {
        set(maxInFlight, v);
        return this;
    }

    public ModelScorer setRequestTimeoutMs(long v) {
        set(requestTimeoutMs, v);
        return this;
    }

    public ModelScorer setDeadlineMs(long v) {
        set(deadlineMs, v);
        return this;
    }

    /** Counts scored rows into {@code acc} as partitions progress (the batch job's progress line reads it). */
    public ModelScorer setProgress(LongAccumulator acc) {
        this.rowsScored = acc;
        return this;
    }

    // ------------------------------------------------------------------ Transformer

    @Override
    public String uid() {
        return uid;
    }

    @Override
    public StructType transformSchema(StructType schema) {
        boolean remote = isDefined(endpoints);
        if (remote == isDefined(modelPath)) {
            throw new IllegalArgumentException("set exactly one of endpoints (remote scoring) and modelPath "
                    + "(in-process scoring)");
        }
        var field = Schemas.field(schema, $(featuresCol), "featuresCol");
        if (!Schemas.isFeatures(field.dataType())) {
            throw new IllegalArgumentException("featuresCol '" + $(featuresCol) + "' must be array<float>, "
                    + "array<double> or vector, it is " + field.dataType().simpleString());
        }
        StructType out = add(schema, $(scoreCol), DataTypes.FloatType);
        if (isDefined(threshold)) {
            out = add(out, $(predictionCol), DataTypes.IntegerType);
        }
        if (isDefined(errorCol)) {
            out = add(out, $(errorCol), DataTypes.StringType);
        }
        return out;
    }

    private PartitionScorer.Kind kind(StructType schema) {
        var type = schema.apply($(featuresCol)).dataType();
        if (type instanceof ArrayType a) {
            if (a.elementType().equals(DataTypes.FloatType)) {
                return a.containsNull() ? PartitionScorer.Kind.NULLABLE_FLOAT_ARRAY : PartitionScorer.Kind.FLOAT_ARRAY;
            }
            return PartitionScorer.Kind.DOUBLE_ARRAY;
        }
        return PartitionScorer.Kind.VECTOR;
    }

    private static StructType add(StructType schema, String name, org.apache.spark.sql.types.DataType type) {
        if (Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("output column '" + name + "' already exists in the input");
        }
        return schema.add(name, type, true);
    }

    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType out = transformSchema(dataset.schema());
        ScoringSettings settings = new ScoringSettings(
                isDefined(endpoints) ? $(endpoints) : null,
                isDefined(serverModel) ? $(serverModel) : null,
                $(protocol),
                isDefined(modelPath) ? $(modelPath) : null,
                (Integer) $(batchRows), (Integer) $(maxInFlight), (Long) $(requestTimeoutMs), (Long) $(deadlineMs),
                dataset.schema().fieldIndex($(featuresCol)),
                isDefined(threshold) ? (Double) $(threshold) : null,
                isDefined(errorCol),
                isDefined(trustCertificates) ? $(trustCertificates) : null,
                bearerToken(isDefined(endpoints)));
        if (settings.remote()) {
            settings.clientConfig(); // validates the endpoints on the driver, before any task starts
        }
        var df = (org.apache.spark.sql.classic.Dataset<Row>) dataset.toDF();
        var scored = df.queryExecution().toRdd().toJavaRDD()
                .mapPartitions(new PartitionScorer(settings, kind(dataset.schema()), rowsScored));
        // Spark's internal-row entry point: rows go in and out in Spark's binary form (see PartitionScorer)
        return ((org.apache.spark.sql.classic.SparkSession) df.sparkSession())
                .internalCreateDataFrame(scored.rdd(), out, false);
    }

    /** The bearer token from authTokenFile or authTokenEnv (remote mode only), or null. */
    private String bearerToken(boolean remote) {
        String file = isDefined(authTokenFile) ? $(authTokenFile) : null;
        String env = isDefined(authTokenEnv) ? $(authTokenEnv) : null;
        if (!remote && (file != null || env != null)) {
            throw new IllegalArgumentException("authTokenFile and authTokenEnv are for remote scoring (endpoints)");
        }
        String token = AuthToken.resolve(file, env, System::getenv, "authTokenFile", "authTokenEnv");
        if (remote) {
            LOG.info("scoring through {} ({} protocol{})", $(endpoints), $(protocol), token == null
                    ? ", no bearer token" : ", bearer token from " + (file != null ? "file " + file
                    : "environment variable " + env));
        }
        return token;
    }

    @Override
    public ModelScorer copy(ParamMap extra) {
        ModelScorer copy = defaultCopy(extra);
        copy.rowsScored = rowsScored;
        return copy;
    }

    /** Reads a saved stage ({@code Pipeline} loading finds this by reflection). */
    public static MLReader<ModelScorer> read() {
        return new DefaultParamsReader<>();
    }

    public static ModelScorer load(String path) {
        return read().load(path);
    }
}
