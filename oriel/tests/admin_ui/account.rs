//! The second factor and the account page.

use crate::support::Backend;
use crate::support::admin::AdminUi;
use crate::support::web::log_in;
use crate::{
    USER, USER_PASSWORD, WS, enrolment_secret, fetch_status, listed_workspaces, new_user,
    user_in_group_a, wrong_code,
};
use anyhow::Result;
use oriel_testkit::{Page, totp};
use serde_json::Value;

on_both_databases!(
    a_user_of_a_group_requiring_totp_enrols_and_logs_in_with_codes,
    the_account_page_changes_the_password_and_the_second_factor,
);

async fn a_user_of_a_group_requiring_totp_enrols_and_logs_in_with_codes(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    user_in_group_a(&ui, true).await;
    let page = &ui.page;

    // The user logs in and is made to set up TOTP.
    log_in(page, &ui.oriel, USER, USER_PASSWORD).await.unwrap();
    page.wait_shown("#enroll-view").await.unwrap();
    assert_eq!(
        page.property("#main-nav", "hidden").await.unwrap(),
        true,
        "no navigation before the second factor is set up"
    );
    let secret = enrolment_secret(page).await.unwrap();
    let qr = page.attrs("#totp-qr", "src").await.unwrap();
    assert!(qr[0].starts_with("data:image/svg+xml"), "{qr:?}");
    let decoded = page
        .eval("document.getElementById('totp-qr').decode().then(() => true)")
        .await;
    assert!(
        matches!(decoded, Ok(Value::Bool(true))),
        "the QR code is a valid image: {decoded:?}"
    );
    // Until then, the API refuses everything else.
    assert_eq!(fetch_status(page, "GET", "/api/v1/workspaces").await, 403);
    let code_input = "#enroll-container form input[name=code]";
    let step = totp::current_step();
    let code = totp::code_for_base32(&secret, step).unwrap();
    page.fill(code_input, &wrong_code(&code)).await.unwrap();
    page.click("#totp-confirm").await.unwrap();
    page.wait_shown("#enroll-container .form-error")
        .await
        .unwrap();
    page.fill(code_input, &code).await.unwrap();
    page.click("#totp-confirm").await.unwrap();
    page.wait_shown("#recovery-codes").await.unwrap();
    let recovery = page.texts("#recovery-codes li").await.unwrap();
    assert_eq!(recovery.len(), 10, "{recovery:?}");
    page.click("#recovery-saved").await.unwrap();
    crate::support::web::expect_logged_in(page, USER)
        .await
        .unwrap();
    assert_eq!(listed_workspaces(page).await.unwrap(), [WS[0], WS[1]]);
    page.eval("location.hash = '#/account'").await.unwrap();
    page.wait_shown("#totp-panel [data-totp-state=on]")
        .await
        .unwrap();
    ui.log_out().await.unwrap();

    // Again: password, then a fresh code (the used step is refused).
    log_in(page, &ui.oriel, USER, USER_PASSWORD).await.unwrap();
    page.wait_shown("#totp").await.unwrap();
    // The confirmed code's step is used up; the next step's code is within
    // the server's one-step tolerance, or the clock has moved on.
    let fresh = totp::current_step().max(step + 1);
    let code = totp::code_for_base32(&secret, fresh).unwrap();
    page.fill("#totp", &wrong_code(&code)).await.unwrap();
    page.click("#login-button").await.unwrap();
    page.wait(
        "document.getElementById('login-error').textContent.includes('code was not accepted')",
    )
    .await
    .unwrap();
    page.fill("#totp", &code).await.unwrap();
    // The keyboard submits the form.
    page.press_key("Enter").await.unwrap();
    crate::support::web::expect_logged_in(page, USER)
        .await
        .unwrap();
    assert_eq!(listed_workspaces(page).await.unwrap(), [WS[0], WS[1]]);
    ui.log_out().await.unwrap();

    // And with a recovery code, in the same field.
    log_in(page, &ui.oriel, USER, USER_PASSWORD).await.unwrap();
    page.fill("#totp", &recovery[0]).await.unwrap();
    page.click("#login-button").await.unwrap();
    crate::support::web::expect_logged_in(page, USER)
        .await
        .unwrap();
    page.assert_no_js_errors();
}

/// Fills the account page's password form (the new one twice) and submits it.
async fn change_password(page: &Page, current: &str, new: &str) -> Result<()> {
    let form = "#password-form";
    page.fill(&format!("{form} [data-field=current] input"), current)
        .await?;
    page.fill(&format!("{form} [data-field=new] input"), new)
        .await?;
    page.fill(&format!("{form} [data-field=again] input"), new)
        .await?;
    page.click(&format!("{form} button[type=submit]")).await
}

async fn the_account_page_changes_the_password_and_the_second_factor(backend: Backend) {
    const ROB: &str = "rob";
    const FIRST: &str = "first-long-secret-1";
    const WRONG: &str = "second-long-secret-2";
    const THIRD: &str = "third-long-secret-3";
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    new_user(&ui, ROB, FIRST, "user", &[]).await;
    ui.log_in(ROB, FIRST).await.unwrap();
    let page = &ui.page;

    // A wrong current password is the form's error, not a lost login.
    ui.open_view("account").await.unwrap();
    let form = "#password-form";
    change_password(page, WRONG, THIRD).await.unwrap();
    page.wait_shown(&format!("{form} [data-field=current] .field-error"))
        .await
        .unwrap();
    assert!(
        page.is_shown("#user-area").await.unwrap(),
        "a wrong current password is not a lost login"
    );

    // A second factor rob chose himself, then turned off.
    page.click("#totp-setup").await.unwrap();
    let secret = enrolment_secret(page).await.unwrap();
    let step = totp::current_step();
    page.fill(
        "#totp-panel form input[name=code]",
        &totp::code_for_base32(&secret, step).unwrap(),
    )
    .await
    .unwrap();
    page.click("#totp-confirm").await.unwrap();
    page.click("#recovery-saved").await.unwrap();
    page.wait_shown("#totp-panel [data-totp-state=on]")
        .await
        .unwrap();
    let fresh = totp::current_step().max(step + 1);
    page.fill(
        "#totp-disable-form [data-field=code] input",
        &totp::code_for_base32(&secret, fresh).unwrap(),
    )
    .await
    .unwrap();
    page.click("#totp-disable-form button[type=submit]")
        .await
        .unwrap();
    page.wait_shown("#totp-panel [data-totp-state=off]")
        .await
        .unwrap();

    // The password change ends every login, this one too.
    change_password(page, FIRST, THIRD).await.unwrap();
    page.wait(
        "!document.getElementById('login-view').hidden \
         && document.getElementById('login-error').textContent.includes('password was changed')",
    )
    .await
    .unwrap();
    ui.log_in(ROB, THIRD).await.unwrap();
    page.assert_no_js_errors();
}
