/**
 * Capacity planning: plan files ({@link dev.scoreflow.plan.PlanFile}), the load, the designs, the seeded simulation,
 * costs and reports, and the replay of a plan against a real server or jobs queue.
 *
 * <p>A tool module, not yet a library: it is the {@code scoreflow plan} and {@code plan replay} commands
 * ({@link dev.scoreflow.plan.PlanCommand}, {@code ReplayCommand}) with the model they compute on, and it keeps picocli
 * for them. The commands stay here because they use the module's package-private engine (the replay, the rate
 * probes, the simulation, the V2 target): moving them to an application module, as the Spark and streaming commands
 * were, would make that engine public API before anyone has asked to call it from code. Its public types
 * ({@link dev.scoreflow.plan.Plan}, {@link dev.scoreflow.plan.Planner}, {@link dev.scoreflow.plan.Load},
 * {@link dev.scoreflow.plan.Design}, ...) are recorded by the API check so that a change to them is reviewed, but
 * promise no compatibility to library users: run the planner through the CLI. When it becomes a library, its commands
 * move out as {@code scoreflow-spark-job}'s did.
 */
package dev.scoreflow.plan;
