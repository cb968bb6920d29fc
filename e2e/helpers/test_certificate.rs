//! Writes a throw-away TLS certificate for the browser tests: `cert.pem` and `key.pem` in DIR,
//! self-signed, naming every HOST given.
//!
//! `cargo run --example test_certificate -- DIR HOST...`

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: test_certificate DIR HOST...")?);
    let hosts: Vec<String> = args.collect();
    if hosts.is_empty() {
        return Err("name at least one host".into());
    }
    let made = rcgen::generate_simple_self_signed(hosts)?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("cert.pem"), made.cert.pem())?;
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem())?;
    Ok(())
}
