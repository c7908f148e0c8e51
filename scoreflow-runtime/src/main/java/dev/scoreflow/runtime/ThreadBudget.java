package dev.scoreflow.runtime;

/**
 * How many threads scoring may use: {@code inferenceThreads} batches run at once (over all models), each with
 * {@code intraOpThreads} ONNX Runtime threads.
 *
 * <p>The default gives one inference thread per available core and one intra-op thread each, so that concurrent
 * batches never oversubscribe the cores (the seed service lost 3x to oversubscribed BLAS threads).
 */
public record ThreadBudget(int inferenceThreads, int intraOpThreads) {
    public ThreadBudget {
        if (inferenceThreads < 1 || inferenceThreads > 1024) {
            throw new IllegalArgumentException("inferenceThreads must be in [1, 1024], got " + inferenceThreads);
        }
        if (intraOpThreads < 1 || intraOpThreads > 1024) {
            throw new IllegalArgumentException("intraOpThreads must be in [1, 1024], got " + intraOpThreads);
        }
    }

    /** One inference thread per available core, one intra-op thread each. */
    public static ThreadBudget defaults() {
        return new ThreadBudget(Runtime.getRuntime().availableProcessors(), 1);
    }
}
