/**
 * Request-acknowledge scoring: a client submits a job and gets its id at once; a worker scores it later; the client
 * asks for the result, waits for it (long polling), or is called back.
 *
 * <p>{@link dev.scoreflow.jobs.JobQueue} is the queue every broker implements, with the semantics of Amazon SQS
 * that the lecture names: at-least-once delivery under a lease (the visibility timeout: a job a worker took but did
 * not finish in time is delivered again), a maximum number of receives after which the job is dead-lettered with its
 * last error, delayed retries, and FIFO queues that deliver each message group's jobs one at a time, in order.
 * {@link dev.scoreflow.jobs.PostgresJobQueue} is the first: a jobs table done right.
 */
package dev.scoreflow.jobs;
