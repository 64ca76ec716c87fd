//! Generated cover art and avatars as small SVGs, so the UI has images without the internet.

use crate::catalog::Catalog;
use crate::ids::hash64;

/// An album cover: a two-colour gradient from the album's hue, a few rings, and the
/// album's initials.
pub(crate) fn album_cover(catalog: &Catalog, album: usize, size: u32) -> String {
    let hue = catalog.album_hue(album);
    let second = (hue + 40) % 360;
    let name = &catalog.albums[album].name;
    let seed = hash64(&catalog.albums[album].id);
    let rings: String = (0..3u64)
        .map(|i| {
            let r = 18 + ((seed >> (i * 8)) % 30);
            let cx = 20 + ((seed >> (i * 8 + 4)) % 60);
            let cy = 20 + ((seed >> (i * 8 + 2)) % 60);
            format!(
                "<circle cx=\"{cx}\" cy=\"{cy}\" r=\"{r}\" fill=\"none\" stroke=\"#fff\" stroke-opacity=\"0.25\" stroke-width=\"3\"/>"
            )
        })
        .collect();
    svg(size, hue, second, &rings, &initials(name))
}

/// A user avatar: a coloured disc with the display name's initials.
pub(crate) fn avatar(user_id: &str, display_name: &str) -> String {
    let hue = u16::try_from(hash64(user_id) % 360).unwrap_or(0);
    svg(300, hue, (hue + 25) % 360, "", &initials(display_name))
}

fn svg(size: u32, hue: u16, second: u16, shapes: &str, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 100 100\">\
<defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
<stop offset=\"0\" stop-color=\"hsl({hue},65%,45%)\"/><stop offset=\"1\" stop-color=\"hsl({second},70%,25%)\"/>\
</linearGradient></defs><rect width=\"100\" height=\"100\" fill=\"url(#g)\"/>{shapes}\
<text x=\"50\" y=\"58\" font-family=\"sans-serif\" font-size=\"26\" font-weight=\"bold\" fill=\"#fff\" text-anchor=\"middle\">{label}</text></svg>"
    )
}

/// Up to two initials, XML-safe (names are ASCII letters and spaces, but be strict).
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_alphanumeric())
        .take(2)
        .collect()
}
