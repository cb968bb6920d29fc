//! `gatehouse doctor`: for each app origin, whether its browsers will keep and send the session
//! cookie with this configuration, why not, and the fix (the same analysis start-up runs); and
//! whether passkeys work there.

use clap::Args;

use crate::config::topology;
use crate::config::{Config, PasskeyConfig};
use crate::origin::Origin;

#[derive(Args)]
pub struct DoctorArgs {
    /// An app origin to check (repeat); default: every `cors.allowed_origins` entry.
    #[arg(long = "app-origin", value_name = "URL")]
    app_origins: Vec<String>,
}

/// Prints a verdict per origin; `Ok(false)` when one of them cannot work or would be refused at
/// start-up.
pub fn run(config: &Config, args: &DoctorArgs) -> anyhow::Result<bool> {
    let api = &config.server.public_origin;
    let origins: Vec<Origin> = if args.app_origins.is_empty() {
        config.cors.allowed_origins.clone()
    } else {
        args.app_origins
            .iter()
            .map(|text| {
                Origin::parse(text).map_err(|e| anyhow::anyhow!("--app-origin {text}: {e}"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    anyhow::ensure!(
        !origins.is_empty(),
        "no app origin to check: pass --app-origin URL or list origins in cors.allowed_origins"
    );
    let mut all_fine = true;
    println!(
        "API {api}; cookies: SameSite={}, Secure={}, Partitioned={}\n",
        config.cookies.same_site.as_str(),
        config.cookies.secure,
        config.cookies.partitioned
    );
    for origin in &origins {
        let verdict = topology::analyse(origin, api, &config.cookies);
        print!("{verdict}");
        let refused = verdict.refused(&config.cookies).count() > 0;
        if refused && verdict.works() {
            println!(
                "  start-up refuses this origin unless cookies.allow_unpartitioned_cross_site = true"
            );
        }
        if !config.cors.allowed_origins.contains(origin) {
            println!(
                "  - not in cors.allowed_origins: the browser will refuse every credentialed answer; add \"{origin}\""
            );
            all_fine = false;
        }
        all_fine &= !refused && verdict.works();
        match &config.passkeys {
            PasskeyConfig::On(rp) if rp.origins.contains(origin) => {
                println!("  passkeys work here (RP ID {})", rp.id);
            }
            PasskeyConfig::On(rp) => println!(
                "  passkeys do not work here: not among the relying party's origins (RP ID {}; https or localhost, on that domain)",
                rp.id
            ),
            PasskeyConfig::Off(why) => println!("  passkeys are off: {why}"),
        }
        println!();
    }
    println!("More: docs/cookies.md (\"Why is my cookie not sent?\")");
    Ok(all_fine)
}
