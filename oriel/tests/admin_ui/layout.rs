//! The admin's navigation, and every table view on a narrow screen.

use crate::support::Backend;
use crate::support::admin::AdminUi;
use crate::{USER, USER_PASSWORD, new_group, new_user, new_workspace};
use serde_json::json;

on_both_databases!(the_admin_navigation_has_every_view_and_each_fits_a_narrow_screen);

async fn the_admin_navigation_has_every_view_and_each_fits_a_narrow_screen(backend: Backend) {
    let ui = AdminUi::logged_out(backend, &[]).await.unwrap();
    let page = &ui.page;
    // A row in each table.
    let ws = new_workspace(&ui, "desk", json!({})).await;
    let group = new_group(&ui, json!({"name": "team", "workspaces": [ws]})).await;
    new_user(&ui, USER, USER_PASSWORD, "user", &[&group]).await;
    page.set_viewport(1280, 800).await.unwrap();
    ui.log_in("admin", crate::support::ADMIN_PASSWORD)
        .await
        .unwrap();

    let routes = page.attrs("#nav-links a", "data-route").await.unwrap();
    for route in [
        "home",
        "users",
        "groups",
        "workspaces",
        "sessions",
        "audit",
        "tokens",
        "account",
    ] {
        assert!(routes.iter().any(|r| r == route), "{route} in {routes:?}");
    }

    // A narrow screen: nothing wider than the viewport.
    page.set_viewport(390, 844).await.unwrap();
    for route in ["audit", "users", "groups", "workspaces"] {
        ui.open_view(route).await.unwrap();
        page.wait("document.querySelector('#app-view table, #app-view .empty') !== null")
            .await
            .unwrap();
        let overflow = page
            .eval("document.documentElement.scrollWidth - window.innerWidth")
            .await
            .unwrap();
        assert!(
            overflow.as_f64().unwrap() <= 0.0,
            "{route} overflows by {overflow} px"
        );
    }
    page.assert_no_js_errors();
}
