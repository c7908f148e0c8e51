package dev.scoreflow.server;

import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;

/**
 * One attempt at a {@code mailto:} callback (the lecture's "the result reaches the client by e-mail"): a plain-text
 * message with the job's state, error and result through the configured SMTP server, each connect, read and write
 * bounded by the callback timeout. Thread-safe: a session per worker, a connection per message.
 */
final class MailSender {
    private final CallbackSettings settings;
    private final Session session;

    MailSender(CallbackSettings settings) {
        this.settings = settings;
        Properties p = new Properties();
        if (settings.smtpHost != null) {
            p.put("mail.smtp.host", settings.smtpHost);
            p.put("mail.smtp.port", Integer.toString(settings.smtpPort));
        }
        String ms = Long.toString(settings.timeout.toMillis());
        p.put("mail.smtp.connectiontimeout", ms);
        p.put("mail.smtp.timeout", ms);
        p.put("mail.smtp.writetimeout", ms);
        this.session = Session.getInstance(p);
    }

    void send(String mailto, Map<String, Object> job, String document) throws CallbackException {
        if (settings.smtpHost == null) {
            throw new CallbackException("no SMTP server configured (--smtp host:port)", false);
        }
        String to = URI.create(mailto).getSchemeSpecificPart();
        try {
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress(settings.mailFrom));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress(to, true));
            m.setHeader(WebhookSender.JOB_ID, (String) job.get("id"));
            m.setSubject("Scoreflow job " + job.get("id") + " " + job.get("state"), "UTF-8");
            StringBuilder text = new StringBuilder();
            text.append("Job ").append(job.get("id")).append(" (model ").append(job.get("model")).append(") is ")
                    .append(job.get("state")).append(" after ").append(job.get("receives")).append(" receives.\n");
            if (job.get("error") != null) {
                text.append("Error: ").append(job.get("error")).append('\n');
            }
            if (job.containsKey("result_url")) {
                text.append(job.containsKey("result") ? "The result is in the document below"
                        : "Its result is binary (" + job.get("result_type") + ")").append("; GET ")
                        .append(job.get("result_url")).append(" on the server gives it as the synchronous call "
                                + "would have.\n");
            }
            text.append("\n").append(document).append('\n');
            m.setText(text.toString(), StandardCharsets.UTF_8.name());
            Transport.send(m);
        } catch (SendFailedException e) {
            // an address the server calls invalid stays invalid; a temporary refusal (4xx) may pass later
            boolean invalid = e.getInvalidAddresses() != null && e.getInvalidAddresses().length > 0;
            throw new CallbackException("the SMTP server refused it: " + e.getMessage(), !invalid);
        } catch (MessagingException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new CallbackException("SMTP " + settings.smtpHost + ":" + settings.smtpPort + ": " + cause);
        }
    }
}
