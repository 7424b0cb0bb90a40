use shapes::Rect;

#[test]
fn unit_square() {
    assert_eq!(Rect { w: 1.0, h: 1.0 }.area(), 1.0);
}

#[test]
#[ignore = "slow under emulation"]
fn huge_grid() {
    let total: f64 = (0..10_000_000).map(|_| Rect { w: 1.0, h: 1.0 }.area()).sum();
    assert_eq!(total, 1e7);
}
