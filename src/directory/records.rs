//! The employee directory's records and their field rules. A leaf: the stores name these types.
//!
//! JSON field names are the tutorial's camelCase ones (`firstName`, `blogURL`, ...) so its
//! Backbone Directory client works unchanged; ids and `managerId` are numbers and every
//! documented key is present in a detail reply, `null` when empty.

use garde::Validate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::account::records::Email;
use crate::clock::serialize_rfc3339;

pub type EmployeeId = i64;

/// A row of a list (`GET /employees`, search, reports).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeSummary {
    pub id: EmployeeId,
    pub first_name: String,
    pub last_name: String,
    pub title: Option<String>,
    pub report_count: i64,
}

/// One employee in full (`GET /employees/{id}`).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Employee {
    pub id: EmployeeId,
    pub first_name: String,
    pub last_name: String,
    pub title: Option<String>,
    pub department: Option<String>,
    pub office_phone: Option<String>,
    pub cell_phone: Option<String>,
    pub email: Option<String>,
    pub city: Option<String>,
    pub manager_id: Option<EmployeeId>,
    pub manager_first_name: Option<String>,
    pub manager_last_name: Option<String>,
    pub twitter_id: Option<String>,
    #[serde(rename = "blogURL")]
    #[schema(rename = "blogURL")]
    pub blog_url: Option<String>,
    pub report_count: i64,
    #[serde(serialize_with = "serialize_rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub last_modified: OffsetDateTime,
}

/// The body of `POST /employees` and `PUT /employees/{id}` (a full replacement). Read-only
/// keys a Backbone model sends back (`id`, `reportCount`, `lastModified`, ...) are ignored.
#[derive(Clone, Debug, Default, Deserialize, Validate, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeInput {
    #[garde(custom(required_text(50)))]
    #[serde(default)]
    pub first_name: Option<String>,
    #[garde(custom(required_text(50)))]
    #[serde(default)]
    pub last_name: Option<String>,
    #[garde(skip)]
    #[serde(default)]
    pub manager_id: Option<EmployeeId>,
    #[garde(custom(optional_text(100)))]
    #[serde(default)]
    pub title: Option<String>,
    #[garde(custom(optional_text(100)))]
    #[serde(default)]
    pub department: Option<String>,
    #[garde(custom(phone_rule))]
    #[serde(default)]
    pub office_phone: Option<String>,
    #[garde(custom(phone_rule))]
    #[serde(default)]
    pub cell_phone: Option<String>,
    #[garde(custom(email_rule))]
    #[serde(default)]
    pub email: Option<String>,
    #[garde(custom(optional_text(100)))]
    #[serde(default)]
    pub city: Option<String>,
    #[garde(custom(twitter_rule))]
    #[serde(default)]
    pub twitter_id: Option<String>,
    #[garde(custom(blog_url_rule))]
    #[serde(default, rename = "blogURL")]
    #[schema(rename = "blogURL")]
    pub blog_url: Option<String>,
}

impl EmployeeInput {
    /// The JSON name of a field (`first_name` -> `firstName`, `blog_url` -> `blogURL`).
    pub fn wire_name(field: &str) -> String {
        if field == "blog_url" {
            return "blogURL".into();
        }
        let mut out = String::with_capacity(field.len());
        let mut upper = false;
        for c in field.chars() {
            match c {
                '_' => upper = true,
                c if upper => {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                }
                c => out.push(c),
            }
        }
        out
    }

    /// Trims every text and turns empty ones into `None` (call after validation).
    pub fn normalised(mut self) -> Self {
        for field in [
            &mut self.first_name,
            &mut self.last_name,
            &mut self.title,
            &mut self.department,
            &mut self.office_phone,
            &mut self.cell_phone,
            &mut self.email,
            &mut self.city,
            &mut self.twitter_id,
            &mut self.blog_url,
        ] {
            *field = field
                .take()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty());
        }
        self
    }
}

fn text_rule(value: &str, max: usize) -> garde::Result {
    if value.trim().chars().count() > max {
        return Err(garde::Error::new("too_long"));
    }
    if value.chars().any(char::is_control) {
        return Err(garde::Error::new("invalid_characters"));
    }
    Ok(())
}

fn required_text(max: usize) -> impl FnOnce(&Option<String>, &()) -> garde::Result {
    move |value, _| match value.as_deref().map(str::trim) {
        None | Some("") => Err(garde::Error::new("required")),
        Some(v) => text_rule(v, max),
    }
}

fn optional_text(max: usize) -> impl FnOnce(&Option<String>, &()) -> garde::Result {
    move |value, _| value.as_deref().map_or(Ok(()), |v| text_rule(v, max))
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn phone_rule(value: &Option<String>, _: &()) -> garde::Result {
    match present(value) {
        Some(v)
            if v.len() > 30
                || !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c)) =>
        {
            Err(garde::Error::new("invalid_phone"))
        }
        _ => Ok(()),
    }
}

fn email_rule(value: &Option<String>, _: &()) -> garde::Result {
    present(value).map_or(Ok(()), |v| {
        Email::parse(v).map(drop).map_err(garde::Error::new)
    })
}

fn twitter_rule(value: &Option<String>, _: &()) -> garde::Result {
    match present(value) {
        Some(v) => {
            let handle = v.strip_prefix('@').unwrap_or(v);
            let ok = (1..=15).contains(&handle.len())
                && handle
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if ok {
                Ok(())
            } else {
                Err(garde::Error::new("invalid_twitter_id"))
            }
        }
        None => Ok(()),
    }
}

fn blog_url_rule(value: &Option<String>, _: &()) -> garde::Result {
    match present(value) {
        Some(v) => {
            // Only http(s): a `javascript:` URL rendered as a link would run in the viewer's page.
            let scheme_ok = v.starts_with("https://") || v.starts_with("http://");
            let ok = scheme_ok
                && v.len() <= 200
                && !v.chars().any(|c| c.is_whitespace() || c.is_control());
            if ok {
                Ok(())
            } else {
                Err(garde::Error::new("invalid_url"))
            }
        }
        None => Ok(()),
    }
}

/// `modifiedsince` accepts Unix seconds or RFC 3339.
pub fn parse_timestamp(input: &str) -> Option<OffsetDateTime> {
    if !input.is_empty() && input.len() <= 12 && input.bytes().all(|b| b.is_ascii_digit()) {
        return OffsetDateTime::from_unix_timestamp(input.parse().ok()?).ok();
    }
    OffsetDateTime::parse(input, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_unix_seconds_or_rfc3339() {
        assert_eq!(parse_timestamp("0"), Some(OffsetDateTime::UNIX_EPOCH));
        assert_eq!(
            parse_timestamp("2026-01-01T00:00:00Z").map(|t| t.unix_timestamp()),
            Some(1_767_225_600)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("99999999999999999999"), None);
        assert_eq!(parse_timestamp("-5"), None);
    }

    #[test]
    fn only_http_blog_urls_are_accepted() {
        let check = |v: &str| blog_url_rule(&Some(v.to_owned()), &());
        assert!(check("https://blog.example.com/post").is_ok());
        assert!(check("javascript:alert(1)").is_err());
        assert!(check("https://x y").is_err());
    }
}
