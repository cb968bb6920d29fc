//! The mails' texts: built in, or replaced file by file from `mail.templates_dir`.
//!
//! A text template starts with a `Subject:` line and a blank line; the HTML template is the
//! body only. `{{username}}`, `{{link}}` and `{{expires_minutes}}` are replaced; in HTML the
//! values are escaped first.

use std::path::Path;

use super::MailKind;

const RESET_TXT: &str = "Subject: Reset your password

Hello {{username}},

someone (hopefully you) asked to reset the password of your account. Open this link to choose
a new one:

{{link}}

The link works once, for {{expires_minutes}} minutes. If you did not ask for it, ignore this
mail: your password stays as it is.
";

const RESET_HTML: &str = "<p>Hello {{username}},</p>
<p>someone (hopefully you) asked to reset the password of your account.
<a href=\"{{link}}\">Choose a new password</a>.</p>
<p>The link works once, for {{expires_minutes}} minutes. If you did not ask for it, ignore this
mail: your password stays as it is.</p>
";

const VERIFY_TXT: &str = "Subject: Confirm your e-mail address

Hello {{username}},

please confirm that this address belongs to your account by opening this link:

{{link}}

The link works once, for {{expires_minutes}} minutes. If you did not sign up or change your
address, ignore this mail.
";

const VERIFY_HTML: &str = "<p>Hello {{username}},</p>
<p>please <a href=\"{{link}}\">confirm that this address belongs to your account</a>.</p>
<p>The link works once, for {{expires_minutes}} minutes. If you did not sign up or change your
address, ignore this mail.</p>
";

/// One kind's subject, text body and HTML body, placeholders still in.
#[derive(Clone, Debug)]
struct Template {
    subject: String,
    text: String,
    html: String,
}

/// A rendered mail.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone, Debug)]
pub struct Templates {
    reset: Template,
    verify: Template,
}

impl Templates {
    /// The built-in templates, with each file found in `dir` taking the place of its own.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        let read = |name: &str, builtin: &str| -> anyhow::Result<String> {
            match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("mail template {}: {e}", path.display())),
                None => Ok(builtin.to_owned()),
            }
        };
        Ok(Self {
            reset: template(
                "password_reset.txt",
                &read("password_reset.txt", RESET_TXT)?,
                read("password_reset.html", RESET_HTML)?,
            )?,
            verify: template(
                "email_verification.txt",
                &read("email_verification.txt", VERIFY_TXT)?,
                read("email_verification.html", VERIFY_HTML)?,
            )?,
        })
    }

    pub fn render(&self, kind: MailKind, username: &str, link: &str, minutes: i64) -> Rendered {
        let t = match kind {
            MailKind::PasswordReset => &self.reset,
            MailKind::EmailVerification => &self.verify,
        };
        let minutes = minutes.to_string();
        let fill = |text: &str, escape: fn(&str) -> String| {
            text.replace("{{username}}", &escape(username))
                .replace("{{link}}", &escape(link))
                .replace("{{expires_minutes}}", &minutes)
        };
        Rendered {
            subject: fill(&t.subject, |v| v.to_owned()),
            text: fill(&t.text, |v| v.to_owned()),
            html: fill(&t.html, html_escape),
        }
    }
}

/// Splits the `Subject:` line off a text template.
fn template(name: &str, text: &str, html: String) -> anyhow::Result<Template> {
    let (first, body) = text.split_once('\n').unwrap_or((text, ""));
    let subject = first
        .strip_prefix("Subject:")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!("mail template {name}: the first line must be `Subject: …`")
        })?;
    Ok(Template {
        subject: subject.to_owned(),
        text: body.trim_start_matches('\n').to_owned(),
        html,
    })
}

fn html_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_html_values_escaped() {
        let t = Templates::load(None).unwrap();
        let r = t.render(
            MailKind::PasswordReset,
            "a<b>",
            "https://app.example.com/#reset/x&y",
            30,
        );
        assert_eq!(r.subject, "Reset your password");
        assert!(r.text.contains("Hello a<b>,"), "{}", r.text);
        assert!(r.text.contains("https://app.example.com/#reset/x&y"));
        assert!(r.text.contains("for 30 minutes"));
        assert!(r.html.contains("Hello a&lt;b&gt;,"), "{}", r.html);
        assert!(
            r.html
                .contains("href=\"https://app.example.com/#reset/x&amp;y\"")
        );
    }

    #[test]
    fn a_template_folder_replaces_only_the_files_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("email_verification.txt"),
            "Subject: Bitte bestätigen\n\nHallo {{username}}: {{link}}\n",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path())).unwrap();
        let v = t.render(MailKind::EmailVerification, "ada", "L", 5);
        assert_eq!(v.subject, "Bitte bestätigen");
        assert_eq!(v.text, "Hallo ada: L\n");
        let r = t.render(MailKind::PasswordReset, "ada", "L", 5);
        assert_eq!(r.subject, "Reset your password");
        std::fs::write(dir.path().join("password_reset.txt"), "no subject\n").unwrap();
        let e = Templates::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("first line must be `Subject:"), "{e}");
    }
}
