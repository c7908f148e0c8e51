package dev.scoreflow.spark;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where the bearer token comes from, and that it is never printed. */
class AuthTokenTest {
    private static final Map<String, String> ENV = Map.of("TOKEN", " t0k3n \n", "BLANK", " ");

    private static String resolve(String file, String env) {
        return AuthToken.resolve(file, env, ENV::get, "authTokenFile", "authTokenEnv");
    }

    @Test
    void item21_theTokenIsTheFilesFirstLineOrTheVariableAndEveryBadSourceIsNamed(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("token");
        Files.writeString(file, "  s3cret  \nsecond line\n");
        assertThat(resolve(file.toString(), null)).isEqualTo("s3cret");
        assertThat(resolve(null, "TOKEN")).isEqualTo("t0k3n");
        assertThat(resolve(null, null)).isNull();
        assertThatThrownBy(() -> resolve(file.toString(), "TOKEN")).hasMessage("set at most one of authTokenFile "
                + "and authTokenEnv");
        assertThatThrownBy(() -> resolve(dir.resolve("none").toString(), null)).hasMessageContaining("cannot be read");
        Files.writeString(dir.resolve("empty"), "\n");
        assertThatThrownBy(() -> resolve(dir.resolve("empty").toString(), null)).hasMessageContaining("is empty");
        assertThatThrownBy(() -> resolve(null, "UNSET")).hasMessage("authTokenEnv: the environment variable UNSET "
                + "is not set");
        assertThatThrownBy(() -> resolve(null, "BLANK")).hasMessageContaining("BLANK is empty");
    }

    @Test
    void item20_scoringSettingsPrintEverythingButTheToken() {
        ScoringSettings s = new ScoringSettings("http://a:1", null, "seed", null, 10, 2, 1000, 2000, 1, null, false,
                null, "s3cret");
        assertThat(s.toString()).doesNotContain("s3cret").contains("bearerToken=(redacted)").contains("http://a:1");
        assertThat(s.clientConfig().bearerToken()).isEqualTo("s3cret");
        assertThat(s.clientConfig().toString()).doesNotContain("s3cret");
    }
}
