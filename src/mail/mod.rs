//! Mail out: password-reset and verification links, over SMTP (lettre) or to the console.
//!
//! Sending never blocks a request and never fails it: [`Mailer::queue`] renders the mail and
//! puts it on a bounded queue; a worker delivers up to [`IN_FLIGHT`] mails at once, each with
//! `mail.retries` further attempts, the wait doubling from `mail.retry_delay_ms`. A mail that
//! cannot be queued or delivered is logged (by account id, never with its link) and counted in
//! `gatehouse_mails_total`; the requester learns nothing of it (no account enumeration).

mod templates;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::{Semaphore, mpsc};

use crate::account::records::{Email, UserId, Username};
use crate::config::{MailConfig, MailTransport};
use crate::metrics::Metrics;

pub use templates::{Rendered, Templates};

/// Deliveries running at once; the rest wait in the queue.
const IN_FLIGHT: usize = 4;
/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

/// What a mail is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    PasswordReset,
    EmailVerification,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
        }
    }

    /// The fragment route of the app that opens this kind's link.
    fn route(self) -> &'static str {
        match self {
            Self::PasswordReset => "reset",
            Self::EmailVerification => "verify-email",
        }
    }
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Console,
}

/// One mail on its way.
struct Outgoing {
    kind: MailKind,
    user: UserId,
    message: Message,
    /// What the console transport prints.
    rendered: Rendered,
    to: String,
}

/// Delivery with retries, shared by the worker's tasks.
struct Delivery {
    transport: Transport,
    retries: u32,
    retry_delay: Duration,
    metrics: Arc<Metrics>,
    /// Mails queued or being delivered, for a shutdown that waits for them.
    unfinished: AtomicUsize,
}

pub struct Mailer {
    queue: mpsc::Sender<Outgoing>,
    delivery: Arc<Delivery>,
    from: Mailbox,
    templates: Templates,
    link_base: String,
}

impl Mailer {
    /// Checks the transport and templates and starts the delivery worker.
    pub fn start(config: &MailConfig, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let transport = match &config.transport {
            MailTransport::Console => Transport::Console,
            MailTransport::Smtp { url } => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(&with_starttls_by_default(url))
                    .map_err(|e| {
                        anyhow::anyhow!("mail.smtp_url {}: {e}", crate::config::redact_url(url))
                    })?
                    .timeout(Some(config.timeout))
                    .build(),
            ),
        };
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| anyhow::anyhow!("mail.from {:?}: {e}", config.from))?;
        let templates = Templates::load(config.templates_dir.as_deref())?;
        let delivery = Arc::new(Delivery {
            transport,
            retries: config.retries,
            retry_delay: config.retry_delay,
            metrics,
            unfinished: AtomicUsize::new(0),
        });
        let (queue, waiting) = mpsc::channel(config.queue_capacity);
        tokio::spawn(work(waiting, delivery.clone()));
        let mut link_base = config.link_base.clone();
        if !link_base.ends_with('/') && !link_base.contains('?') {
            link_base.push('/');
        }
        Ok(Self {
            queue,
            delivery,
            from,
            templates,
            link_base,
        })
    }

    /// The link a mail of `kind` carries: the token in the fragment, so it reaches neither the
    /// app's server log nor a `Referer`.
    pub fn link(&self, kind: MailKind, token: &str) -> String {
        format!("{}#{}/{token}", self.link_base, kind.route())
    }

    /// Renders and queues a mail with `token`'s link, valid for `valid_for`. Never waits and
    /// never fails the caller: a mail that cannot be built or queued is logged and counted.
    pub fn queue(
        &self,
        kind: MailKind,
        user: UserId,
        username: &Username,
        to: &Email,
        token: &str,
        valid_for: time::Duration,
    ) {
        let metrics = &self.delivery.metrics;
        let link = self.link(kind, token);
        let rendered =
            self.templates
                .render(kind, username.as_str(), &link, valid_for.whole_minutes());
        let message = match self.message(to.as_str(), &rendered) {
            Ok(message) => message,
            Err(e) => {
                metrics.mail(kind.as_str(), "failed");
                tracing::warn!(kind = kind.as_str(), user, error = %e, "mail not sent: cannot build it");
                return;
            }
        };
        let outgoing = Outgoing {
            kind,
            user,
            message,
            rendered,
            to: to.as_str().to_owned(),
        };
        self.delivery.unfinished.fetch_add(1, Ordering::SeqCst);
        if self.queue.try_send(outgoing).is_err() {
            self.delivery.unfinished.fetch_sub(1, Ordering::SeqCst);
            metrics.mail(kind.as_str(), "dropped");
            tracing::error!(
                kind = kind.as_str(),
                user,
                "mail dropped: the queue is full (raise mail.queue_capacity, or check the SMTP server)"
            );
        }
    }

    /// Waits until every queued mail is delivered or given up, at most `within`; the number
    /// still unfinished (lost with the process). For a graceful shutdown.
    pub async fn drain(&self, within: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = self.delivery.unfinished.load(Ordering::SeqCst);
            if left == 0 || tokio::time::Instant::now() >= deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends a test mail now, without queue or retries: the server's answer, or why it failed
    /// (`gatehouse mail test`).
    pub async fn send_test(&self, to: &str) -> anyhow::Result<String> {
        let rendered = Rendered {
            subject: "Gatehouse test mail".into(),
            text: "This is a test mail from `gatehouse mail test`. Mail works.\n".into(),
            html: "<p>This is a test mail from <code>gatehouse mail test</code>. Mail works.</p>"
                .into(),
        };
        let message = self.message(to, &rendered)?;
        match &self.delivery.transport {
            Transport::Console => {
                print_mail(to, &rendered);
                Ok("printed to the console (mail.transport = \"console\")".into())
            }
            Transport::Smtp(smtp) => {
                let answer = smtp.send(message).await?;
                Ok(format!(
                    "{} {}",
                    answer.code(),
                    answer.message().collect::<Vec<_>>().join(" ")
                ))
            }
        }
    }

    fn message(&self, to: &str, rendered: &Rendered) -> anyhow::Result<Message> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| anyhow::anyhow!("{to:?} is not a mailbox: {e}"))?;
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))?)
    }
}

/// `smtp://` without `tls=` uses STARTTLS when the server offers it.
fn with_starttls_by_default(url: &str) -> String {
    if url.starts_with("smtp://") && !url.contains("tls=") {
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}tls=opportunistic")
    } else {
        url.to_owned()
    }
}

async fn work(mut waiting: mpsc::Receiver<Outgoing>, delivery: Arc<Delivery>) {
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(mail) = waiting.recv().await {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let delivery = delivery.clone();
        tokio::spawn(async move {
            delivery.deliver(mail).await;
            delivery.unfinished.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
        });
    }
}

impl Delivery {
    async fn deliver(&self, mail: Outgoing) {
        let kind = mail.kind.as_str();
        let smtp = match &self.transport {
            Transport::Console => {
                print_mail(&mail.to, &mail.rendered);
                self.metrics.mail(kind, "sent");
                return;
            }
            Transport::Smtp(smtp) => smtp,
        };
        let mut wait = self.retry_delay;
        for attempt in 0..=self.retries {
            match smtp.send(mail.message.clone()).await {
                Ok(_) => {
                    self.metrics.mail(kind, "sent");
                    tracing::info!(kind, user = mail.user, attempt, "mail sent");
                    return;
                }
                Err(e) if attempt < self.retries => {
                    self.metrics.mail(kind, "retried");
                    tracing::warn!(kind, user = mail.user, attempt, error = %e, retry_in_ms = wait.as_millis() as u64, "mail delivery failed; will retry");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_DELAY);
                }
                Err(e) => {
                    self.metrics.mail(kind, "failed");
                    tracing::error!(kind, user = mail.user, attempts = attempt + 1, error = %e, "mail not delivered: retries spent");
                }
            }
        }
    }
}

fn print_mail(to: &str, rendered: &Rendered) {
    println!(
        "--- mail to {to}: {}\n{}--- end of mail",
        rendered.subject, rendered.text
    );
}
