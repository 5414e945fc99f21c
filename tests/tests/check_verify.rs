//! The verification checks' fail paths: a kid missing from the JWKS, a signing key whose public
//! half is not the JWKS entry, wrong tenant or project ids, and the control-plane JWKS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_support;

use behest_desktop::core::keys::RsaKey;
use check_support::*;

#[tokio::test]
async fn an_unknown_kid_names_behest_kid() {
    let gw = gateway(|_| {}).await;
    assert!(gw.remove_kid(&gw.credentials().kid));
    let report = run_default(Mode::LocalSign, &gw, &[]).await;
    passes(&report, "verify.jwks");
    fails_naming(&report, "verify.kid", "BEHEST_KID");
    skipped_by(&report, "verify.signature", "verify.kid");
    fails_naming(&report, "verify.publicKey", "BEHEST_KID");
    assert!(!get(&report, "chat.completion").ok);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_key_whose_public_half_is_not_in_the_jwks_names_behest_key() {
    let gw = gateway(|_| {}).await;
    let other = RsaKey::generate().unwrap();
    let pem = other.private_pem();
    let report = run_default(
        Mode::LocalSign,
        &gw,
        &[("BEHEST_KEY", &sign_key(pem.expose()))],
    )
    .await;
    passes(&report, "config.key");
    passes(&report, "verify.kid");
    fails_naming(&report, "verify.signature", "BEHEST_KEY");
    fails_naming(&report, "verify.publicKey", "BEHEST_KEY");
    assert!(!get(&report, "chat.completion").ok);
    no_secrets(&report, &[pem.expose().lines().nth(1).unwrap()]);
    gw.shutdown().await;
}

#[tokio::test]
async fn a_wrong_tenant_or_project_is_named_by_the_chat_check() {
    let gw = gateway(|_| {}).await;
    let c = gw.credentials();
    // The gateway's 403 does not say which id is wrong: the detail shows both of the token's,
    // so each case is told apart by the id it names.
    for (var, value, tenant, project) in [
        (
            "BEHEST_TENANT_ID",
            "ten_wrong",
            "ten_wrong",
            c.project_id.as_str(),
        ),
        (
            "BEHEST_PROJECT_ID",
            "prj_wrong",
            c.tenant_id.as_str(),
            "prj_wrong",
        ),
    ] {
        let report = run_default(Mode::LocalSign, &gw, &[(var, value)]).await;
        passes(&report, "verify.signature");
        passes(&report, "verify.publicKey");
        fails_naming(&report, "chat.completion", var);
        let detail = &get(&report, "chat.completion").detail;
        assert!(detail.starts_with("HTTP 403"), "{detail}");
        assert!(
            detail.ends_with(&format!(
                "the token is for tenant {tenant} and project {project}"
            )),
            "{var}: {detail}"
        );
        // Nothing else failed: the ids are well-formed, the token verifies.
        let failed: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(failed, ["chat.completion", "limits.usage"], "{var}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn the_control_plane_jwks_is_checked_when_configured() {
    let gw = gateway(|_| {}).await;
    let other = gateway(|_| {}).await;
    // The same gateway as control plane: the global kid is there and verifies.
    let mut o = options();
    o.control_plane = Some(gw.base_url());
    let report = run_mode(Mode::ApiKey, &gw, &[], &o).await;
    passes(&report, "verify.controlPlane");
    // Another gateway publishes a different key under the same global kid.
    o.control_plane = Some(other.base_url());
    let report = run_mode(Mode::ApiKey, &gw, &[], &o).await;
    fails_naming(&report, "verify.controlPlane", "--control-plane");
    // Tenant keys live on the project host; their absence from the control plane is fine.
    let report = run_mode(Mode::LocalSign, &gw, &[], &o).await;
    passes(&report, "verify.controlPlane");
    // Not configured: not run.
    let report = run_default(Mode::ApiKey, &gw, &[]).await;
    assert!(report.get("verify.controlPlane").is_none());
    other.shutdown().await;
    gw.shutdown().await;
}
