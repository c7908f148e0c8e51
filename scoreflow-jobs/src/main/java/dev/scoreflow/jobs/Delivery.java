package dev.scoreflow.jobs;

/**
 * A job a worker received: valid until its lease expires (the visibility timeout), then delivered again, to this
 * worker or another. {@code receipt} names this one delivery: completing or failing a job takes the receipt, and a
 * receipt whose lease has passed to another delivery is refused. {@code receives} counts this delivery.
 */
public record Delivery(String id, String receipt, JobRequest request, int receives) {
}
