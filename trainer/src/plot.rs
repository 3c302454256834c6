//! PNG plot of the training curves (train bits/dim per step, test bits/dim per epoch).

use std::path::Path;

use plotters::prelude::*;

pub fn plot_curves(path: &Path, train: &[(u64, f64)], test: &[(u64, f64)]) -> anyhow::Result<()> {
    if train.is_empty() {
        return Ok(());
    }
    let root = BitMapBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_step = train.last().map(|p| p.0).unwrap_or(1).max(1);
    let all = train.iter().chain(test).map(|p| p.1);
    let (lo, hi) = all.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.05).max(0.01);
    let mut chart = ChartBuilder::on(&root)
        .caption("bits/dim", ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0u64..max_step, (lo - pad)..(hi + pad))?;
    chart.configure_mesh().x_desc("step").y_desc("bits/dim").draw()?;
    // smooth the noisy per-step curve with a running mean over ~1% of the steps
    let win = (train.len() / 100).max(1);
    let smooth: Vec<(u64, f64)> = train
        .windows(win)
        .map(|w| (w[w.len() - 1].0, w.iter().map(|p| p.1).sum::<f64>() / w.len() as f64))
        .collect();
    chart
        .draw_series(LineSeries::new(smooth, &BLUE))?
        .label("train")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(test.to_vec(), RED.stroke_width(2)))?
        .label("test")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart.draw_series(test.iter().map(|&p| Circle::new(p, 4, RED.filled())))?;
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
