package dev.scoreflow.client;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Configuration: secrets stay out of its text, bad values are refused with the value. */
class ClientConfigTest {
    @Test
    void item20_toStringRedactsTheBearerTokenButShowsTheOtherSettings() {
        ClientConfig c = ClientConfig.builder("http://a:8080").bearerToken("s3cr3t-t0ken").maxWaiting(7).build();
        assertThat(c.toString()).doesNotContain("s3cr3t-t0ken").contains("bearerToken=(redacted)")
                .contains("maxWaiting=7").contains("http://a:8080");
        assertThat(ClientConfig.builder("http://a:8080").build().toString()).contains("bearerToken=null");
        assertThat(c.toBuilder().build()).isEqualTo(c); // equality (one shared client per configuration) keeps it
    }

    @Test
    void item17_maxWaitingDefaultsTo4096AndRefusesANegativeValue() {
        assertThat(ClientConfig.builder("http://a:8080").build().maxWaiting()).isEqualTo(4096);
        assertThatThrownBy(() -> ClientConfig.builder("http://a:8080").maxWaiting(-1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("maxWaiting must be >= 0, got -1");
    }
}
