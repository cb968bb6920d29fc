//! A small, made-up company for the demo and the tests: one head, four managers, eight reports.

use time::OffsetDateTime;

use super::records::EmployeeInput;
use crate::store::{EmployeeStore, StoreResult};

/// (first, last, title, department, manager index, city, twitter)
type Person = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<usize>,
    &'static str,
    &'static str,
);

const PEOPLE: &[Person] = &[
    (
        "Marguerite",
        "Okafor",
        "Chief Executive Officer",
        "Executive",
        None,
        "Boston",
        "mokafor",
    ),
    (
        "Tomasz",
        "Lindqvist",
        "VP of Engineering",
        "Engineering",
        Some(0),
        "Boston",
        "tlindqvist",
    ),
    (
        "Priya",
        "Raman",
        "VP of Sales",
        "Sales",
        Some(0),
        "Chicago",
        "priyasells",
    ),
    (
        "Dolores",
        "Achebe",
        "VP of Marketing",
        "Marketing",
        Some(0),
        "Boston",
        "dachebe",
    ),
    (
        "Henrik",
        "Castellanos",
        "Director of Operations",
        "Operations",
        Some(0),
        "Denver",
        "hcastell",
    ),
    (
        "Yuki",
        "Brennan",
        "Staff Software Engineer",
        "Engineering",
        Some(1),
        "Boston",
        "yukib",
    ),
    (
        "Oluwaseun",
        "Haddad",
        "Software Engineer",
        "Engineering",
        Some(1),
        "Remote",
        "seunhaddad",
    ),
    (
        "Ines",
        "Kowalczyk",
        "Site Reliability Engineer",
        "Engineering",
        Some(1),
        "Boston",
        "ineskow",
    ),
    (
        "Rafael",
        "Ng",
        "Account Executive",
        "Sales",
        Some(2),
        "Chicago",
        "rafang",
    ),
    (
        "Beatriz",
        "Fitzgerald",
        "Sales Engineer",
        "Sales",
        Some(2),
        "Austin",
        "beafitz",
    ),
    (
        "Kwame",
        "Jaramillo",
        "Content Strategist",
        "Marketing",
        Some(3),
        "Boston",
        "kwamej",
    ),
    (
        "Sigrid",
        "Mbeki",
        "Designer",
        "Marketing",
        Some(3),
        "Portland",
        "sigridm",
    ),
    (
        "Arjun",
        "Delacroix",
        "Facilities Coordinator",
        "Operations",
        Some(4),
        "Denver",
        "arjund",
    ),
];

/// Inserts the made-up company if the directory is empty; returns how many were added.
pub async fn seed_if_empty(store: &dyn EmployeeStore, now: OffsetDateTime) -> StoreResult<usize> {
    if store.count().await? > 0 {
        return Ok(0);
    }
    let mut ids = Vec::with_capacity(PEOPLE.len());
    for (n, (first, last, title, department, manager, city, twitter)) in PEOPLE.iter().enumerate() {
        let handle = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let input = EmployeeInput {
            first_name: Some((*first).into()),
            last_name: Some((*last).into()),
            manager_id: manager.map(|m| ids[m]),
            title: Some((*title).into()),
            department: Some((*department).into()),
            office_phone: Some(format!("617-555-01{:02}", n)),
            cell_phone: Some(format!("617-555-02{:02}", n)),
            email: Some(format!("{handle}@example.com")),
            city: Some((*city).into()),
            twitter_id: Some(format!("@{twitter}")),
            blog_url: Some(format!("https://blog.example.com/{}", twitter)),
        };
        ids.push(store.create(&input, now).await?.id);
    }
    Ok(ids.len())
}
