//! The login page: the password form, throttling, single sign-on buttons.

use crate::support::admin::AdminUi;
use crate::support::web::{expect_logged_in, goto_index, log_out};
use crate::support::{ADMIN_PASSWORD, Backend};
use oriel_testkit::{ScratchDir, free_port};
use serde_json::json;
use std::os::unix::fs::PermissionsExt as _;

on_both_databases!(
    without_a_provider_the_login_page_offers_the_password_form_only,
    a_throttled_login_says_how_long_to_wait,
    single_sign_on_buttons_follow_the_methods_endpoint,
);

async fn without_a_provider_the_login_page_offers_the_password_form_only(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    let page = &ui.page;
    goto_index(page, &ui.oriel).await.unwrap();
    page.wait_shown("#login-form").await.unwrap();
    page.wait(
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/api/v1/auth/methods'))",
    )
    .await
    .unwrap();
    assert_eq!(
        page.eval("[document.getElementById('sso-area').hidden, document.getElementById('sso-buttons').childElementCount]")
            .await
            .unwrap(),
        json!([true, 0])
    );
    page.assert_no_js_errors();
}

async fn a_throttled_login_says_how_long_to_wait(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    let page = &ui.page;
    goto_index(page, &ui.oriel).await.unwrap();
    let mut throttled = false;
    for _ in 0..8 {
        page.eval("document.getElementById('login-error').textContent = ''")
            .await
            .unwrap();
        page.fill("#username", "nobody-here").await.unwrap();
        page.fill("#password", "not-the-password").await.unwrap();
        page.click("#login-button").await.unwrap();
        page.wait("document.getElementById('login-error').textContent !== ''")
            .await
            .unwrap();
        let message = page.text("#login-error").await.unwrap();
        if message.contains("Try again in") {
            assert_eq!(
                page.property("#login-button", "disabled").await.unwrap(),
                true,
                "the button waits too"
            );
            let wait: u64 = page
                .eval("document.getElementById('login-error').dataset.retryAfter")
                .await
                .unwrap()
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=900).contains(&wait), "{wait}");
            assert!(message.contains(&format!("{wait} s")), "{message}");
            throttled = true;
            break;
        }
        assert_eq!(message, "Wrong username or password.");
    }
    assert!(throttled, "never throttled");
}

/// Replaces `GET /api/v1/auth/methods` in every document of the tab: three
/// providers, two of which point off-site and must get no button (the page
/// navigates only to paths of its own site, whatever the server says).
const METHODS_STUB: &str = r#"
(() => {
  const native = window.fetch.bind(window);
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (new URL(url, location.href).pathname === '/api/v1/auth/methods') {
      return Promise.resolve(new Response(JSON.stringify({
        password: true,
        oidc: [
          { id: 'default', name: 'Company SSO', start: '/api/v1/auth/oidc/start' },
          { id: 'evil', name: 'Elsewhere', start: 'https://evil.example/start' },
          { id: 'script', name: 'Script', start: 'javascript:alert(1)' },
        ],
      }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    }
    return native(input, init);
  };
})();
"#;

async fn single_sign_on_buttons_follow_the_methods_endpoint(backend: Backend) {
    // A provider is configured but nothing answers at its issuer: the login
    // page offers it, and starting a login comes back with an error code.
    let secret_dir = ScratchDir::new("oidc-secret").unwrap();
    let secret_file = secret_dir.path().join("client_secret");
    std::fs::write(&secret_file, "client-secret-for-the-ui-test\n").unwrap();
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let issuer = format!("http://127.0.0.1:{}", free_port().unwrap());
    let ui = AdminUi::logged_out(
        backend,
        &[
            ("ORIEL_CONTROL__OIDC__ISSUER", issuer.as_str()),
            ("ORIEL_CONTROL__OIDC__CLIENT_ID", "oriel-ui-test"),
            (
                "ORIEL_CONTROL__OIDC__CLIENT_SECRET_FILE",
                secret_file.to_str().unwrap(),
            ),
            ("ORIEL_CONTROL__OIDC__DISPLAY_NAME", "Company SSO"),
        ],
    )
    .await
    .unwrap();

    // The real endpoint: one button, beside the password form.
    let page = &ui.page;
    page.goto(&format!("{}/index.html#/audit", ui.oriel.origin()))
        .await
        .unwrap();
    page.wait_shown("#sso-buttons button[data-sso=default]")
        .await
        .unwrap();
    assert_eq!(
        page.texts("#sso-buttons button").await.unwrap(),
        ["Sign in with Company SSO"]
    );
    assert!(
        page.is_shown("#login-form").await.unwrap(),
        "the password form stays"
    );
    // The login would come back to the route the page was on.
    assert_eq!(
        page.eval(
            "import('/js/login.js').then(m => m.ssoStartUrl('/api/v1/auth/oidc/start', location.hash))"
        )
        .await
        .unwrap(),
        "/api/v1/auth/oidc/start?return_to=%2F%23%2Faudit"
    );
    // The button navigates to the start address; the server cannot reach
    // the provider and sends the browser back with a code, which the page
    // turns into words.
    page.click("#sso-buttons button[data-sso=default]")
        .await
        .unwrap();
    page.wait(
        "location.pathname === '/' && location.hash === '#/login?error=oidc_provider_unavailable' \
         && document.getElementById('login-error').textContent.includes('cannot be reached')",
    )
    .await
    .unwrap();
    assert_eq!(
        page.attrs("#login-error", "role").await.unwrap(),
        ["alert"],
        "the message is announced"
    );
    // Other codes, known or not; anything but a plain code is not shown.
    page.eval("location.hash = '#/login?error=oidc_user_disabled'")
        .await
        .unwrap();
    page.wait("document.getElementById('login-error').textContent.includes('account is disabled')")
        .await
        .unwrap();
    page.eval("location.hash = '#/login?error=brand_new_code'")
        .await
        .unwrap();
    page.wait("document.getElementById('login-error').textContent.includes('(brand_new_code)')")
        .await
        .unwrap();
    // A password login from there lands on the home page, not on "#/login".
    page.fill("#username", "admin").await.unwrap();
    page.fill("#password", ADMIN_PASSWORD).await.unwrap();
    page.click("#login-button").await.unwrap();
    expect_logged_in(page, "admin").await.unwrap();
    assert_eq!(page.eval("location.hash").await.unwrap(), "#/");
    page.assert_no_js_errors();

    // Whatever the server says, only same-site providers get a button.
    let page = ui.browser.new_page().await.unwrap();
    page.add_init_script(METHODS_STUB).await.unwrap();
    page.goto(&format!("{}/index.html", ui.oriel.origin()))
        .await
        .unwrap();
    page.wait(
        "!document.getElementById('login-view').hidden || !document.getElementById('home-view').hidden",
    )
    .await
    .unwrap();
    // This tab shares the admin's cookie: log out to see the login page.
    if page.is_shown("#home-view").await.unwrap() {
        log_out(&page).await.unwrap();
    }
    page.wait_shown("#sso-buttons button").await.unwrap();
    assert_eq!(page.count("#sso-buttons button").await.unwrap(), 1);
    assert_eq!(
        page.attrs("#sso-buttons button", "data-sso").await.unwrap(),
        ["default"]
    );
}
