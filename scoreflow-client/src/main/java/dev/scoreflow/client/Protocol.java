package dev.scoreflow.client;

/** The wire protocol the client speaks to scoring nodes. */
public enum Protocol {
    /**
     * The seed article's binary protocol: {@code PUT /score} (or {@code /models/{name}/score}) with rows as
     * little-endian float32, scores back the same way. The fastest; only Scoreflow and the seed service speak it.
     */
    SEED,
    /**
     * The Open Inference Protocol (KServe V2) over REST with the binary tensor extension:
     * {@code POST /v2/models/{name}/infer}. Drives any V2 server (Scoreflow, Triton, KServe).
     */
    V2
}
