package dev.scoreflow.streaming;

import dev.scoreflow.api.internal.Json;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

/**
 * A synthetic stream of card transactions, the lecture's fraud example: each card has its own spending habits (a
 * home country, a typical amount, favourite merchants), merchants have a risk, and now and then a card is stolen and
 * a burst of fraudulent transactions follows (abroad, large, at risky merchants, seconds apart). After
 * {@code driftAfter} events a slow drift sets in (amounts, travel and fraud all rise over the next
 * {@code driftAfter} events), so that windowed statistics and drift rules have something to find. A fraction of
 * events are late (event time up to {@code maxLatenessMs} before the clock) and a fraction malformed (not JSON, a
 * missing or mistyped field, a number that is not finite), each kind named in the record's key-less value so tests
 * can count them.
 *
 * <p>Deterministic for a seed and a clock. The value of each record is the event's JSON (see {@link Event});
 * {@code label} is the ground truth (1 = fraud), for training and evaluation only: the scorer does not read it.
 * Not thread-safe.
 */
public final class TransactionGenerator {
    static final String[] COUNTRIES = {"DE", "FR", "NL", "ES", "IT", "PL", "SE", "GB", "US", "BR", "NG", "VN", "RU",
        "IN", "CN", "TR"};
    private static final double[] HOME_WEIGHTS = {30, 20, 12, 10, 10, 8, 5, 5};
    static final String[] CATEGORIES = {"grocery", "fuel", "restaurant", "online", "travel", "electronics",
        "jewelry", "gaming"};
    private static final int MERCHANTS = 5000;

    /** One generated record: the entity (the Kafka key), the value bytes, and what it is. */
    public record Txn(String entity, byte[] value, long ts, String malformed, boolean late, boolean fraud) {
    }

    private final SplittableRandom random;
    private final LongSupplier clock;
    private final Card[] cards;
    private final double[] merchantRisk;
    private final double malformedFraction;
    private final double lateFraction;
    private final long maxLatenessMs;
    private final long driftAfter;
    private final ArrayDeque<Integer> burst = new ArrayDeque<>();
    private long count;

    private record Card(String id, int home, double mu, double sigma, int[] favourites, double activity) {
    }

    /**
     * @param seed              makes the stream reproducible
     * @param cards             number of cards (entities)
     * @param clock             event time in epoch ms for the next event (wall clock, or simulated)
     * @param malformedFraction share of records that are malformed, in [0, 1]
     * @param lateFraction      share of events whose event time lies behind the clock, in [0, 1]
     * @param maxLatenessMs     how far behind at most
     * @param driftAfter        events before the drift begins (0: never)
     */
    public TransactionGenerator(long seed, int cards, LongSupplier clock, double malformedFraction,
                                double lateFraction, long maxLatenessMs, long driftAfter) {
        if (cards < 1) {
            throw new IllegalArgumentException("cards must be at least 1, was " + cards);
        }
        checkFraction("malformed fraction", malformedFraction);
        checkFraction("late fraction", lateFraction);
        if (maxLatenessMs < 1) {
            throw new IllegalArgumentException("max lateness must be at least 1 ms, was " + maxLatenessMs);
        }
        if (driftAfter < 0) {
            throw new IllegalArgumentException("drift-after must be 0 (never) or positive, was " + driftAfter);
        }
        this.random = new SplittableRandom(seed);
        this.clock = clock;
        this.malformedFraction = malformedFraction;
        this.lateFraction = lateFraction;
        this.maxLatenessMs = maxLatenessMs;
        this.driftAfter = driftAfter;
        this.merchantRisk = new double[MERCHANTS];
        for (int m = 0; m < MERCHANTS; m++) {
            // most merchants are safe; a few are where stolen cards are used
            merchantRisk[m] = random.nextDouble() < 0.05 ? 0.4 + 0.6 * random.nextDouble() : 0.15 * random.nextDouble();
        }
        this.cards = new Card[cards];
        for (int c = 0; c < cards; c++) {
            int[] fav = new int[3 + random.nextInt(6)];
            for (int i = 0; i < fav.length; i++) {
                fav[i] = random.nextInt(MERCHANTS);
            }
            this.cards[c] = new Card(String.format("card-%06d", c), weighted(HOME_WEIGHTS),
                    2.5 + random.nextDouble() * 2.0, 0.4 + random.nextDouble() * 0.6, fav,
                    0.2 + random.nextDouble() * 1.8);
        }
    }

    private static void checkFraction(String what, double f) {
        if (!(f >= 0 && f <= 1)) {
            throw new IllegalArgumentException(what + " must be in [0, 1], was " + f);
        }
    }

    /** The next record. */
    public Txn next() {
        long i = count++;
        double drift = driftAfter == 0 || i < driftAfter ? 0 : Math.min(1.0, (i - driftAfter) / (double) driftAfter);
        long now = clock.getAsLong();
        boolean late = random.nextDouble() < lateFraction;
        long ts = late ? now - 1 - random.nextLong(maxLatenessMs) : now;

        int c;
        boolean fraud;
        if (!burst.isEmpty()) {
            c = burst.poll();
            fraud = true;
        } else {
            c = pickCard();
            // a card is stolen now and then (more often once the drift sets in); the thief uses it a few times
            fraud = random.nextDouble() < 0.002 * (1 + 4 * drift);
            if (fraud) {
                for (int k = 2 + random.nextInt(6); k > 0; k--) {
                    burst.add(c);
                }
            }
        }
        Card card = cards[c];
        int country;
        int merchant;
        double amount;
        if (fraud) {
            country = random.nextDouble() < 0.8 ? 8 + random.nextInt(COUNTRIES.length - 8) : card.home;
            merchant = risky();
            amount = Math.exp(card.mu + 1.2 + random.nextDouble() * 1.5);
        } else {
            boolean abroad = random.nextDouble() < 0.04 + 0.10 * drift;
            country = abroad ? random.nextInt(COUNTRIES.length) : card.home;
            merchant = random.nextDouble() < 0.8 ? card.favourites[random.nextInt(card.favourites.length)]
                    : random.nextInt(MERCHANTS);
            amount = Math.exp(card.mu + 0.6 * drift + card.sigma * gaussian());
        }
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("event_id", String.format("txn-%010d", i));
        e.put("entity", card.id);
        e.put("ts", ts);
        e.put("amount", Math.round(amount * 100) / 100.0);
        e.put("merchant", String.format("m-%04d", merchant));
        e.put("category", CATEGORIES[Math.floorMod(merchant * 31 + (fraud ? 5 : 0), CATEGORIES.length)]);
        e.put("country", COUNTRIES[country]);
        e.put("merchant_risk", Math.round(merchantRisk[merchant] * 1000) / 1000.0);
        e.put("foreign", country == card.home ? 0 : 1);
        e.put("label", fraud ? 1 : 0);

        String malformed = null;
        byte[] value;
        if (random.nextDouble() < malformedFraction) {
            malformed = switch (random.nextInt(4)) {
                case 0 -> "not_json";
                case 1 -> "missing_field";
                case 2 -> "mistyped_field";
                default -> "non_finite";
            };
            switch (malformed) {
                case "missing_field" -> e.remove(random.nextBoolean() ? "entity" : "amount");
                case "mistyped_field" -> e.put("amount", "twelve euros");
                default -> { }
            }
            String json = Json.write(e);
            if (malformed.equals("not_json")) {
                json = json.substring(0, json.length() / 2);
            } else if (malformed.equals("non_finite")) {
                json = json.replaceFirst("\"amount\":[^,]+", "\"amount\":1e999");
            }
            value = json.getBytes(StandardCharsets.UTF_8);
        } else {
            value = Json.write(e).getBytes(StandardCharsets.UTF_8);
        }
        return new Txn(card.id, value, ts, malformed, late, fraud);
    }

    private int pickCard() {
        // activity-weighted by rejection: a few cards are used much more than others
        while (true) {
            int c = random.nextInt(cards.length);
            if (random.nextDouble() * 2.0 < cards[c].activity) {
                return c;
            }
        }
    }

    private int risky() {
        while (true) {
            int m = random.nextInt(MERCHANTS);
            if (merchantRisk[m] > 0.3 || random.nextDouble() < 0.1) {
                return m;
            }
        }
    }

    private int weighted(double[] w) {
        double total = 0;
        for (double x : w) {
            total += x;
        }
        double r = random.nextDouble() * total;
        for (int k = 0; k < w.length; k++) {
            r -= w[k];
            if (r < 0) {
                return k;
            }
        }
        return w.length - 1;
    }

    private double gaussian() {
        // Box-Muller from the seeded generator (SplittableRandom has no nextGaussian on JDK 17)
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
