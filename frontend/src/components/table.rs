//! A table with its column headers, wrapped so a wide one scrolls sideways on a phone instead of
//! the page.

use leptos::prelude::*;

/// `headers` name the columns (an empty one for a column of buttons); `children` are the rows.
/// `compact` tables (inside a card beside other content) have tighter cells.
#[component]
pub fn Table(
    #[prop(optional)] id: Option<&'static str>,
    #[prop(optional)] compact: bool,
    headers: &'static [&'static str],
    children: Children,
) -> impl IntoView {
    let class = if compact { "table compact" } else { "table" };
    view! {
        <div class="table-wrap">
            <table class=class id=id>
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
