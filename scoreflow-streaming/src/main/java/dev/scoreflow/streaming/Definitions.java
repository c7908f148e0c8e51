package dev.scoreflow.streaming;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The line format the features and rules files share: one {@code name <sep> definition} a line, {@code #} starts
 * a comment, blank lines are skipped, a name is declared once. Errors name the file and the line.
 */
final class Definitions {
    /** One definition: its name, its line matched against the file's pattern, and where it is, for messages. */
    record Line(String name, Matcher match, String text, String where) {
    }

    private Definitions() {
    }

    /**
     * The definitions of {@code text}, each line matched against {@code pattern} (group 1: the name).
     *
     * @param expected what a line should look like, for the error when one does not match
     * @throws StreamingException on a line that does not match, or a name declared twice
     */
    static List<Line> lines(String text, String source, Pattern pattern, String expected) {
        List<Line> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        String[] lines = text.split("\r?\n", -1);
        for (int n = 0; n < lines.length; n++) {
            String line = lines[n];
            int hash = line.indexOf('#');
            line = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (line.isEmpty()) {
                continue;
            }
            String where = source + " line " + (n + 1) + ": ";
            Matcher m = pattern.matcher(line);
            if (!m.matches()) {
                throw new StreamingException(where + "expected " + expected + ", got '" + line + "'");
            }
            if (!names.add(m.group(1))) {
                throw new StreamingException(where + "'" + m.group(1) + "' is declared twice");
            }
            out.add(new Line(m.group(1), m, line, where));
        }
        return out;
    }
}
