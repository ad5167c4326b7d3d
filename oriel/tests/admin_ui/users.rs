//! The users view: the form, its refusals, and the row actions.

use crate::support::admin::AdminUi;
use crate::support::web::js;
use crate::support::{ADMIN_PASSWORD, Backend, blocking};
use crate::{USER, USER_PASSWORD, confirm_row_action, new_group, new_user};
use serde_json::json;

on_both_databases!(
    the_user_form_creates_a_user_and_shows_refusals_at_their_fields,
    row_actions_reset_disable_enable_and_delete_a_user,
);

async fn the_user_form_creates_a_user_and_shows_refusals_at_their_fields(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;
    let group_a = new_group(&ui, json!({"name": "Group A"})).await;

    // The user, in group A.
    ui.open_view("users").await.unwrap();
    page.click("#user-new").await.unwrap();
    let form = "#user-create-form";
    page.wait_shown(form).await.unwrap();
    page.fill(&format!("{form} [data-field=username] input"), USER)
        .await
        .unwrap();
    page.fill(
        &format!("{form} [data-field=password] input"),
        USER_PASSWORD,
    )
    .await
    .unwrap();
    page.choose(&format!("{form} [data-field=role] select"), "user")
        .await
        .unwrap();
    page.set_checked(
        &format!(
            "{form} [data-field=groups] input[data-value={}]",
            js(&group_a)
        ),
        true,
    )
    .await
    .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let user_row = format!("#users-list tr[data-username={}]", js(USER));
    page.wait_shown(&user_row).await.unwrap();
    let shown = page.text(&user_row).await.unwrap();
    assert!(shown.contains("Group A"), "{shown}");
    // The password typed into the form is the user's.
    let mut user_api = ui.oriel.api();
    let login = blocking(move || user_api.login(USER, USER_PASSWORD).unwrap()).await;
    assert_eq!(login.status, 200, "{login:?}");

    // A refused form keeps what was typed and says why.
    page.click("#user-new").await.unwrap();
    page.wait_shown(form).await.unwrap();
    page.fill(&format!("{form} [data-field=username] input"), USER)
        .await
        .unwrap();
    page.fill(&format!("{form} [data-field=password] input"), "short")
        .await
        .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_shown(&format!("{form} .form-error"))
        .await
        .unwrap();
    let error = page.text(&format!("{form} .form-error")).await.unwrap();
    assert!(error.contains("at least"), "{error}");
    assert_eq!(
        page.value(&format!("{form} [data-field=username] input"))
            .await
            .unwrap(),
        USER
    );
    // The API's 422 is shown at the field it names, which takes the focus.
    let field_error = "#user-create-form [data-field=password] .field-error";
    page.wait_shown(field_error).await.unwrap();
    let shown = page.text(field_error).await.unwrap();
    assert!(shown.contains("at least"), "{shown}");
    page.wait(
        "(() => { const i = document.querySelector('#user-create-form [data-field=password] input'); \
         return i === document.activeElement && i.getAttribute('aria-invalid') === 'true' \
         && i.getAttribute('aria-describedby').split(' ').some(id => \
              document.getElementById(id)?.classList.contains('field-error')); })()",
    )
    .await
    .unwrap();
    // A name already taken (409) is the username's error; the old mark goes.
    page.fill(
        &format!("{form} [data-field=password] input"),
        "another-long-password-5",
    )
    .await
    .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let taken = "#user-create-form [data-field=username] .field-error";
    page.wait_shown(taken).await.unwrap();
    let shown = page.text(taken).await.unwrap();
    assert!(shown.contains("already exists"), "{shown}");
    assert_eq!(
        page.count("#user-create-form .field-error").await.unwrap(),
        1
    );
    page.press_key("Escape").await.unwrap();
    page.wait("document.getElementById('user-editor').hidden")
        .await
        .unwrap();
    page.assert_no_js_errors();
}

async fn row_actions_reset_disable_enable_and_delete_a_user(backend: Backend) {
    const ROB: &str = "rob";
    const FIRST: &str = "first-long-secret-1";
    const SECOND: &str = "second-long-secret-2";
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;
    new_user(&ui, ROB, FIRST, "user", &[]).await;

    // The admin resets rob's password (a mistyped repeat is the repeat
    // field's error), disables and enables him.
    ui.open_view("users").await.unwrap();
    let row = format!("#users-list tr[data-username={}]", js(ROB));
    page.click(&format!("{row} button.reset-password"))
        .await
        .unwrap();
    let form = "#user-password-form";
    page.fill(&format!("{form} [data-field=password] input"), SECOND)
        .await
        .unwrap();
    page.fill(&format!("{form} [data-field=again] input"), "typo")
        .await
        .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_shown(&format!("{form} [data-field=again] .field-error"))
        .await
        .unwrap();
    page.fill(&format!("{form} [data-field=again] input"), SECOND)
        .await
        .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait("document.getElementById('user-editor').hidden")
        .await
        .unwrap();
    page.click(&format!("{row} button.toggle-disabled"))
        .await
        .unwrap();
    page.wait_text(&format!("{row} td.state"), "disabled")
        .await
        .unwrap();
    page.click(&format!("{row} button.toggle-disabled"))
        .await
        .unwrap();
    page.wait_text(&format!("{row} td.state"), "active")
        .await
        .unwrap();
    ui.log_out().await.unwrap();

    // The new password works.
    ui.log_in(ROB, SECOND).await.unwrap();
    ui.log_out().await.unwrap();

    // The admin deletes rob.
    ui.log_in("admin", ADMIN_PASSWORD).await.unwrap();
    ui.open_view("users").await.unwrap();
    confirm_row_action(page, &row, "delete").await.unwrap();
    page.wait_gone(&row).await.unwrap();
    page.assert_no_js_errors();
}
