//! Minimal SVG charts for report.md: lines over time and a latency histogram. Written
//! by hand (a few dozen SVG elements each) rather than with a plotting crate, to keep
//! the generator's build small on two cores.

use std::fmt::Write;

use hdrhistogram::Histogram;

const W: f64 = 820.0;
const H: f64 = 360.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
// Fourteen, so that the process charts (a gateway, five projector roles, six
// infrastructure processes and the generator) repeat no colour in the single topology.
const COLORS: [&str; 14] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#ad494a", "#8ca252", "#e7969c",
];

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A "nice" upper bound and tick step for 0..max (1, 2 or 5 times a power of ten).
fn nice(max: f64) -> (f64, f64) {
    let max = if max > 0.0 && max.is_finite() {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let pow = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * pow);
    ((max / step).ceil() * step, step)
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v.abs() >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn frame(svg: &mut String, title: &str, x_label: &str, y_label: &str) {
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" text-anchor="middle" font-size="15">{}</text><text x="{}" y="{}" text-anchor="middle">{}</text><text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">{}</text>"##,
        W / 2.0,
        esc(title),
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 10.0,
        esc(x_label),
        TOP + (H - TOP - BOTTOM) / 2.0,
        TOP + (H - TOP - BOTTOM) / 2.0,
        esc(y_label)
    );
}

fn y_axis(svg: &mut String, y_max: f64, step: f64) {
    let plot_h = H - TOP - BOTTOM;
    let mut v = 0.0;
    while v <= y_max + step / 2.0 {
        let y = TOP + plot_h - v / y_max * plot_h;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            fmt_num(v)
        );
        v += step;
    }
}

/// Lines over a shared x axis (e.g. seconds into the run).
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let mut svg = String::new();
    frame(&mut svg, title, x_label, y_label);
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max_raw = all.clone().map(|p| p.0).fold(0.0, f64::max);
    let y_max_raw = all.map(|p| p.1).fold(0.0, f64::max);
    let (x_max, x_step) = nice(x_max_raw);
    let (y_max, y_step) = nice(y_max_raw);
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    y_axis(&mut svg, y_max, y_step);
    let mut v = 0.0;
    while v <= x_max + x_step / 2.0 {
        let x = LEFT + v / x_max * plot_w;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            fmt_num(v)
        );
        v += x_step;
    }
    // A backdrop so the legend stays readable over the lines.
    let _ = write!(
        svg,
        r##"<rect x="{}" y="{}" width="175" height="{}" fill="white" fill-opacity="0.85"/>"##,
        W - RIGHT - 176.0,
        TOP,
        16.0 * series.len() as f64 + 4.0
    );
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    LEFT + x / x_max * plot_w,
                    TOP + plot_h - y / y_max * plot_h
                )
            })
            .collect();
        let _ = write!(
            svg,
            r##"<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{}"/><rect x="{}" y="{}" width="12" height="3" fill="{color}"/><text x="{}" y="{}">{}</text>"##,
            pts.join(" "),
            W - RIGHT - 170.0,
            TOP + 8.0 + 16.0 * k as f64,
            W - RIGHT - 152.0,
            TOP + 13.0 + 16.0 * k as f64,
            esc(&s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Bars of how many samples fell in each 1-2-5 latency bucket (milliseconds).
pub fn histogram(title: &str, h: &Histogram<u64>) -> String {
    let mut svg = String::new();
    frame(
        &mut svg,
        title,
        "latency (ms, bucket upper bound)",
        "samples",
    );
    // Bucket edges in microseconds: 0.1 ms, 0.2, 0.5, 1, 2, 5, ... up to the max.
    let mut edges = vec![0u64];
    let mut e = 100u64;
    let mut k = 0;
    while edges.last().copied().unwrap_or(0) < h.max().max(1) {
        edges.push(e);
        k += 1;
        e = match k % 3 {
            1 => e * 2,
            2 => e * 5 / 2,
            _ => e * 2,
        };
    }
    let buckets: Vec<(u64, u64)> = edges
        .windows(2)
        .map(|w| (w[1], h.count_between(w[0] + u64::from(w[0] > 0), w[1])))
        .collect();
    let y_max_raw = buckets.iter().map(|b| b.1).max().unwrap_or(0) as f64;
    let (y_max, y_step) = nice(y_max_raw);
    y_axis(&mut svg, y_max, y_step);
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let bw = plot_w / buckets.len().max(1) as f64;
    for (i, (hi, n)) in buckets.iter().enumerate() {
        let bh = *n as f64 / y_max * plot_h;
        let x = LEFT + i as f64 * bw;
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{n}</title></rect><text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"##,
            x + 1.0,
            TOP + plot_h - bh,
            (bw - 2.0).max(1.0),
            COLORS[0],
            x + bw / 2.0,
            TOP + plot_h + 14.0,
            fmt_num(*hi as f64 / 1000.0)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_bounds() {
        assert_eq!(nice(7.3), (8.0, 2.0));
        assert_eq!(nice(100.0), (100.0, 20.0));
        assert_eq!(nice(0.0), (1.0, 0.2));
    }

    #[test]
    fn renders() {
        let s = lines(
            "t",
            "s",
            "ms",
            &[Series {
                name: "p50 <a>".into(),
                points: vec![(0.0, 1.0), (1.0, 3.0)],
            }],
        );
        assert!(s.starts_with("<svg") && s.contains("polyline") && s.contains("&lt;a&gt;"));
        let mut h = crate::tracker::histogram(3);
        for v in [150, 900, 4_000, 4_100] {
            h.record(v).unwrap();
        }
        let s = histogram("h", &h);
        assert!(s.matches("<rect x=").count() >= 5);
    }
}
