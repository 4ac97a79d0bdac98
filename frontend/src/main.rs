//! Entry point of the browser console: mounts the Leptos app on the page's body.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(lifeguard_frontend::App);
}
