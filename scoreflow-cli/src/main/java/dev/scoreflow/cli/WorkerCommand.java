package dev.scoreflow.cli;

import dev.scoreflow.api.internal.Log;
import dev.scoreflow.jobs.JobQueue;
import dev.scoreflow.jobs.JobQueues;
import dev.scoreflow.runtime.ModelRepository;
import dev.scoreflow.runtime.ThreadBudget;
import dev.scoreflow.server.JobWorker;
import dev.scoreflow.server.ScoringServer;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** {@code scoreflow worker}: takes scoring jobs from a queue and scores them; run more to scale. */
@Command(name = "worker", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Take scoring jobs from a queue (submitted to a 'serve --jobs' server), score each with the "
                + "models here exactly as the synchronous endpoint would, and store its result. Jobs a killed worker "
                + "held are delivered again once their lease runs out; run several workers to scale. Prints what "
                + "it did every 10 s; Ctrl-C (SIGTERM) stops it.",
                "A job finished here (done, failed or dead-lettered) is called back: each of its webhooks POSTed the"
                + " job's JSON (signed, with Scoreflow-Job-Id and Idempotency-Key headers), each mailto: sent an"
                + " e-mail through --smtp; retried with backoff, the outcome shown in GET /jobs/{id} 'callbacks'.", ""},
        footer = {"", "Example:",
                "  scoreflow serve --models models --jobs postgresql://postgres@127.0.0.1:5432/test",
                "  scoreflow worker --models models --queue postgresql://postgres@127.0.0.1:5432/test --concurrency 2"})
final class WorkerCommand implements Callable<Integer> {
    @ArgGroup(exclusive = true, multiplicity = "1")
    ServeCommand.Source source;

    @Option(names = "--name", paramLabel = "NAME", description = "Name of the --model (default: as 'serve').")
    String name;

    @Option(names = "--queue", required = true, paramLabel = "URL", description = "The job queue: "
            + "postgresql://[user@]host[:port]/database[?queue=NAME&visibility=30s&max-receives=5&fifo=true] or "
            + "kafka://host:port[?queue=NAME&...] (for 'serve --jobs embedded', the kafka:// URL it prints) or "
            + "amqp://[user:password@]host[:port][/vhost]?store=postgresql://...[&queue=NAME&...&prefetch=8] "
            + "(RabbitMQ carries the jobs, PostgreSQL keeps their states and results).")
    String queue;

    @Option(names = "--concurrency", paramLabel = "N", defaultValue = "2", description = "Jobs scored at once "
            + "(default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--threads", paramLabel = "N", description = "Inference threads (default: available cores).")
    Integer threads;

    @picocli.CommandLine.Mixin
    CallbackOptions callbacks = new CallbackOptions();

    @Override
    public Integer call() throws Exception {
        dev.scoreflow.server.CallbackSettings callbackSettings = callbacks.settings(); // refuses a bad one first
        JobQueue q = JobQueues.open(queue); // and a queue it cannot open, before loading any model
        ModelRepository repository;
        try {
            ModelRepository.Builder rb = ModelRepository.builder().threads(new ThreadBudget(
                    threads != null ? threads : Runtime.getRuntime().availableProcessors(), 1));
            if (source.model != null) {
                rb.model(name != null ? name : ServeCommand.modelName(source.model), source.model);
            } else {
                rb.root(source.models);
            }
            repository = rb.build();
            if (repository.readyNames().isEmpty()) {
                repository.close();
                throw new IllegalStateException("no model could be loaded; see the messages above");
            }
        } catch (RuntimeException e) {
            q.close();
            throw e;
        }
        JobWorker worker = JobWorker.start(ScoringServer.builder(repository), q, concurrency, callbackSettings);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            Log.info("stopping: finishing the jobs in hand");
            worker.close();
            q.close();
            repository.close();
            stopped.countDown();
        }, "scoreflow-worker-shutdown"));
        System.out.println("worker ready: " + concurrency + " at once, models " + repository.readyNames());
        System.out.flush();
        long lastDone = 0;
        while (!stopped.await(10, TimeUnit.SECONDS)) {
            long done = worker.done();
            if (done != lastDone) {
                Log.info("jobs done " + done + " (" + (done - lastDone) / 10.0 + "/s), failed attempts "
                        + worker.failed());
                lastDone = done;
            }
        }
        return 0;
    }
}
