package dev.scoreflow.client;

/**
 * One input item with its score, or with the error that kept it from being scored (then {@code score} is NaN).
 *
 * @param item  the input item, as read
 * @param score the model's score, NaN on error
 * @param error why the row has no score, or null
 */
public record Scored<T>(T item, float score, String error) {
    /** Whether the row was scored. */
    public boolean ok() {
        return error == null;
    }
}
