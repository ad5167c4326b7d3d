//! The zones view, and a group's zone.

use crate::confirm_row_action;
use crate::support::Backend;
use crate::support::admin::AdminUi;

on_both_databases!(an_admin_sets_up_zones_and_a_groups_zone);

async fn an_admin_sets_up_zones_and_a_groups_zone(backend: Backend) {
    let ui = AdminUi::start(backend).await.unwrap();
    let page = &ui.page;

    ui.open_view("zones").await.unwrap();
    page.wait_shown("#zones-list tr[data-zone-name=default]")
        .await
        .unwrap();
    assert_eq!(
        page.count("#zones-list tr[data-zone-name=default] button.delete")
            .await
            .unwrap(),
        0,
        "the default zone cannot be deleted"
    );
    page.click("#zone-new").await.unwrap();
    let form = "#zone-create-form";
    page.fill(&format!("{form} [data-field=name] input"), "eu")
        .await
        .unwrap();
    page.fill(
        &format!("{form} [data-field=proxy_url] input"),
        "http://proxy.eu.example.com",
    )
    .await
    .unwrap();
    page.fill(
        &format!("{form} [data-field='connection_proxy.id'] input"),
        "site-gw",
    )
    .await
    .unwrap();
    // Half a connection proxy: refused in the page, at the first missing field.
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_shown(&format!(
        "{form} [data-field='connection_proxy.url'] .field-error"
    ))
    .await
    .unwrap();
    for (field, value) in [
        ("connection_proxy.url", "https://gw.site.example.com"),
        ("connection_proxy.cert_sha256", &"ab".repeat(32)),
        (
            "connection_proxy.sealing_key",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
    ] {
        page.fill(&format!("{form} [data-field='{field}'] input"), value)
            .await
            .unwrap();
    }
    // An http:// proxy: refused by the API, shown at its field.
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    page.wait_shown(&format!("{form} [data-field=proxy_url] .field-error"))
        .await
        .unwrap();
    page.fill(
        &format!("{form} [data-field=proxy_url] input"),
        "https://proxy.eu.example.com",
    )
    .await
    .unwrap();
    page.click(&format!("{form} button[type=submit]"))
        .await
        .unwrap();
    let row = "#zones-list tr[data-zone-name=eu]";
    page.wait_text(&format!("{row} td.proxy"), "https://proxy.eu.example.com")
        .await
        .unwrap();
    page.wait_text(
        &format!("{row} td.connection-proxy"),
        "site-gw https://gw.site.example.com",
    )
    .await
    .unwrap();
    // Edit: fallback on.
    page.click(&format!("{row} button.edit")).await.unwrap();
    page.set_checked("#zone-edit-form [data-field=fallback] input", true)
        .await
        .unwrap();
    page.click("#zone-edit-form button[type=submit]")
        .await
        .unwrap();
    page.wait_text(&format!("{row} td.fallback"), "to other zones")
        .await
        .unwrap();

    // A group of zone eu.
    ui.open_view("groups").await.unwrap();
    page.click("#group-new").await.unwrap();
    let gform = "#group-create-form";
    page.fill(&format!("{gform} [data-field=name] input"), "europeans")
        .await
        .unwrap();
    page.choose(&format!("{gform} [data-field=zone] select"), "eu")
        .await
        .unwrap();
    page.click(&format!("{gform} button[type=submit]"))
        .await
        .unwrap();
    page.wait_text("#groups-list tr[data-group-name=europeans] td.zone", "eu")
        .await
        .unwrap();

    let zone = ui
        .expect(200, "GET", "/api/v1/zones/eu", None)
        .await
        .unwrap();
    let groups = ui.expect(200, "GET", "/api/v1/groups", None).await.unwrap();
    assert_eq!(zone["fallback"], true);
    assert_eq!(zone["proxy_url"], "https://proxy.eu.example.com");
    assert_eq!(zone["connection_proxy"]["id"], "site-gw");
    let g = groups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "europeans")
        .unwrap();
    assert_eq!(g["settings"]["zone"], "eu");

    // A zone a group names cannot be deleted.
    ui.open_view("zones").await.unwrap();
    confirm_row_action(page, row, "delete").await.unwrap();
    page.wait_shown("#app-view .form-error:not(:empty)")
        .await
        .unwrap();
    page.wait_shown(row).await.unwrap();
    page.assert_no_js_errors();
}
