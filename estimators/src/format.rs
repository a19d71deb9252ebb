//! Numbers for people: how reports and messages print estimates.
//!
//! Four significant digits (enough to compare an estimate with its interval, not so
//! many that noise looks like signal), thousands grouped, and scientific notation only
//! for very small magnitudes.

/// A number for people: thousands separated, four significant digits, whole
/// numbers without decimals.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".into();
    }
    if value.abs() < 1e-3 {
        return format!("{value:.3e}");
    }
    // Whole numbers (counts, folds, units) print without decimals.
    let decimals = if value.fract() == 0.0 {
        0
    } else {
        (3 - value.abs().log10().floor() as i32).clamp(0, 4) as usize
    };
    let text = format!("{:.decimals$}", value.abs());
    let (integer, fraction) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, digit) in integer.chars().enumerate() {
        if i > 0 && (integer.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if value < 0.0 { "-" } else { "" };
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(number(1794.3421), "1,794");
        assert_eq!(number(-12345.678), "-12,346");
        assert_eq!(number(2.5), "2.500");
        assert_eq!(number(445.0), "445");
        assert_eq!(number(16177.0), "16,177");
        assert_eq!(number(0.123456), "0.1235");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(0.00012), "1.200e-4");
    }
}
