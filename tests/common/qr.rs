// Included by src/cmd/enroll.rs's unit tests and tests/e2e/journey.rs.

/// Reads a half-block QR code (blocks light, blanks dark) back from text, as
/// a phone would see it on the screen.
pub fn decode(text: &str) -> Option<String> {
    let rows: Vec<Vec<char>> = text
        .lines()
        .filter(|l| l.contains(['█', '▀', '▄']))
        .map(|l| l.chars().collect())
        .collect();
    let width = rows.iter().map(Vec::len).max()?;
    let height = rows.len() * 2;
    let light = |x: usize, y: usize| -> bool {
        let c = rows[y / 2].get(x).copied().unwrap_or(' ');
        matches!((c, y % 2), ('█', _) | ('▀', 0) | ('▄', 1))
    };
    // Two pixels per character cell, each drawn 4 by 4.
    let scale = 4;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(
        width * scale,
        height * scale,
        |x, y| if light(x / scale, y / scale) { 255 } else { 0 },
    );
    let grids = image.detect_grids();
    let (_, content) = grids.first()?.decode().ok()?;
    Some(content)
}
