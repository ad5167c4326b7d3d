//! Points, sizes and rectangles on a desktop, in pixels.

/// A position on the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Point {
    /// Column, 0 at the left.
    pub x: u16,
    /// Row, 0 at the top.
    pub y: u16,
}

impl Point {
    /// A point.
    pub const fn new(x: u16, y: u16) -> Self {
        Point { x, y }
    }
}

/// A width and a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Size {
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
}

impl Size {
    /// A size.
    pub const fn new(width: u16, height: u16) -> Self {
        Size { width, height }
    }

    /// Number of pixels.
    pub const fn area(self) -> u32 {
        self.width as u32 * self.height as u32
    }
}

/// An axis-aligned rectangle. Edges are computed in `u32`, so a rectangle
/// that reaches past 65535 is representable but never inside a desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge.
    pub x: u16,
    /// Top edge.
    pub y: u16,
    /// Width.
    pub width: u16,
    /// Height.
    pub height: u16,
}

impl Rect {
    /// A rectangle.
    pub const fn new(x: u16, y: u16, width: u16, height: u16) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    /// The rectangle covering a whole desktop of `size`.
    pub const fn of_size(size: Size) -> Self {
        Rect::new(0, 0, size.width, size.height)
    }

    /// Exclusive right edge.
    pub const fn right(&self) -> u32 {
        self.x as u32 + self.width as u32
    }

    /// Exclusive bottom edge.
    pub const fn bottom(&self) -> u32 {
        self.y as u32 + self.height as u32
    }

    /// Number of pixels.
    pub const fn area(&self) -> u32 {
        self.width as u32 * self.height as u32
    }

    /// `true` when the rectangle covers no pixel.
    pub const fn is_empty(&self) -> bool {
        self.width == 0 || self.height == 0
    }

    /// Top-left corner.
    pub const fn origin(&self) -> Point {
        Point::new(self.x, self.y)
    }

    /// Size of the rectangle.
    pub const fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }

    /// `true` when every pixel of the rectangle lies on a desktop of `size`.
    pub const fn fits_in(&self, size: Size) -> bool {
        self.right() <= size.width as u32 && self.bottom() <= size.height as u32
    }

    /// `true` when the two rectangles share at least one pixel.
    pub const fn intersects(&self, other: &Rect) -> bool {
        !self.is_empty()
            && !other.is_empty()
            && (self.x as u32) < other.right()
            && (other.x as u32) < self.right()
            && (self.y as u32) < other.bottom()
            && (other.y as u32) < self.bottom()
    }

    /// `true` when `other` lies entirely inside `self`.
    pub const fn contains(&self, other: &Rect) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }

    /// The pixels both rectangles share, if any.
    pub fn intersection(&self, other: &Rect) -> Option<Rect> {
        if !self.intersects(other) {
            return None;
        }
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        // Both edges are within u16 range because x, y came from u16 and the
        // rectangles intersect.
        Some(Rect::new(
            x,
            y,
            u16::try_from(right - x as u32).ok()?,
            u16::try_from(bottom - y as u32).ok()?,
        ))
    }

    /// This rectangle clipped to a desktop of `size`, if anything remains.
    pub fn clip_to(&self, size: Size) -> Option<Rect> {
        self.intersection(&Rect::of_size(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn edges_do_not_overflow() {
        let r = Rect::new(u16::MAX, u16::MAX, u16::MAX, u16::MAX);
        assert_eq!(r.right(), 2 * u16::MAX as u32);
        assert!(!r.fits_in(Size::new(u16::MAX, u16::MAX)));
        assert!(r.clip_to(Size::new(100, 100)).is_none());
    }

    proptest! {
        #[test]
        fn intersection_is_inside_both(
            a in (0u16..500, 0u16..500, 0u16..500, 0u16..500),
            b in (0u16..500, 0u16..500, 0u16..500, 0u16..500),
        ) {
            let a = Rect::new(a.0, a.1, a.2, a.3);
            let b = Rect::new(b.0, b.1, b.2, b.3);
            match a.intersection(&b) {
                Some(i) => {
                    prop_assert!(a.contains(&i));
                    prop_assert!(b.contains(&i));
                    prop_assert!(!i.is_empty());
                    prop_assert!(a.intersects(&b));
                }
                None => prop_assert!(!a.intersects(&b)),
            }
        }
    }
}
