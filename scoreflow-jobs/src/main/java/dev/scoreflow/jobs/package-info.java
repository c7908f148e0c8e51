/**
 * Request-acknowledge scoring: a client submits a job and gets its id at once; a worker scores it later; the client
 * asks for the result, waits for it (long polling), or is called back.
 *
 * <p>{@link dev.scoreflow.jobs.JobQueue} is the queue every broker implements, with the semantics of Amazon SQS
 * that the lecture names: at-least-once delivery under a lease (the visibility timeout: a job a worker took but did
 * not finish in time is delivered again), a maximum number of receives after which the job is dead-lettered with its
 * last error, delayed retries, and FIFO queues that deliver each message group's jobs one at a time, in order.
 * {@link dev.scoreflow.jobs.PostgresJobQueue} is a jobs table done right, {@link dev.scoreflow.jobs.KafkaJobQueue}
 * the Kafka way (topics, a consumer group, transactions), and the RabbitMQ queue (opened by
 * {@link dev.scoreflow.jobs.JobQueues} from an {@code amqp://} URL) a quorum queue with publisher confirms, manual acks
 * and a dead-letter exchange, keeping states and results in PostgreSQL.
 *
 * <p>Fully asynchronous request-reply over RabbitMQ lives here too: {@link dev.scoreflow.jobs.RabbitScoringService}
 * answers scoring requests to their {@code reply_to} with their {@code correlation_id}, and
 * {@link dev.scoreflow.jobs.RabbitScoringClient} sends them and completes a future per reply.
 */
package dev.scoreflow.jobs;
