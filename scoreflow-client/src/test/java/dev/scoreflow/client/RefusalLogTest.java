package dev.scoreflow.client;

import org.junit.jupiter.api.Test;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.AbstractLogger;
import org.slf4j.helpers.MessageFormatter;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** Refusals are logged as a state with a count, not one line per refused call. */
class RefusalLogTest {
    /** Keeps every formatted line. */
    static final class Lines extends AbstractLogger {
        final List<String> lines = new ArrayList<>();

        @Override
        protected String getFullyQualifiedCallerName() {
            return null;
        }

        @Override
        protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args,
                                                   Throwable t) {
            lines.add(level + " " + MessageFormatter.basicArrayFormat(pattern, args));
        }

        @Override
        public boolean isTraceEnabled() {
            return true;
        }

        @Override
        public boolean isTraceEnabled(Marker marker) {
            return true;
        }

        @Override
        public boolean isDebugEnabled() {
            return true;
        }

        @Override
        public boolean isDebugEnabled(Marker marker) {
            return true;
        }

        @Override
        public boolean isInfoEnabled() {
            return true;
        }

        @Override
        public boolean isInfoEnabled(Marker marker) {
            return true;
        }

        @Override
        public boolean isWarnEnabled() {
            return true;
        }

        @Override
        public boolean isWarnEnabled(Marker marker) {
            return true;
        }

        @Override
        public boolean isErrorEnabled() {
            return true;
        }

        @Override
        public boolean isErrorEnabled(Marker marker) {
            return true;
        }
    }

    @Test
    void logsTheFirstRefusalAtOnceThenOneLinePerIntervalWithTheCount() {
        long[] now = {0};
        Lines log = new Lines();
        RefusalLog refusals = new RefusalLog(log, "circuit open for [http://a:1]", 10_000, () -> now[0]);
        refusals.refused("circuit open: the last 32 attempts failed");
        for (int i = 0; i < 1000; i++) {
            now[0] += 5;
            refusals.refused("circuit open: still");
        }
        assertThat(log.lines).containsExactly(
                "WARN circuit open for [http://a:1]: 1 call refused; circuit open: the last 32 attempts failed");
        now[0] += 5_000;
        refusals.refused("circuit open: later");
        assertThat(log.lines).hasSize(2);
        assertThat(log.lines.get(1)).isEqualTo(
                "WARN circuit open for [http://a:1]: 1001 calls refused since the last report; circuit open: later");
    }
}
