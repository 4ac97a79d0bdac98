//! A table with its column headers, wrapped so a wide one scrolls sideways on a phone instead of
//! the page.

use leptos::prelude::*;

/// `headers` name the columns (an empty one for a column of buttons); `children` are the rows.
#[component]
pub fn Table(
    #[prop(optional)] id: Option<&'static str>,
    headers: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table" id=id>
                <thead>
                    <tr>
                        {headers
                            .iter()
                            .map(|header| view! { <th scope="col">{*header}</th> })
                            .collect_view()}
                    </tr>
                </thead>
                <tbody>{children()}</tbody>
            </table>
        </div>
    }
}
