//! Per-session subnets from a configured pool.
//!
//! Docker's default address pools hold about 30 bridge networks (the /16s of
//! 172.17–31 and /20s of 192.168), so one network per session would cap a
//! host at ~30 sessions. With a pool (e.g. `10.213.0.0/16` cut into /28s:
//! 4096 sessions, 11 usable addresses each) the agent picks a random free
//! subnet itself and retries on the engine's overlap error.

use std::fmt;
use std::net::Ipv4Addr;

use ring::rand::{SecureRandom, SystemRandom};

/// A pool of IPv4 subnets for session networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubnetPool {
    base: u32,
    prefix_len: u8,
    subnet_len: u8,
}

/// A pool that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "invalid subnet pool {0:?}: use a.b.c.d/N with N from 8 to 28, cut into /M subnets (N < M <= 29)"
)]
pub struct InvalidPool(String);

impl SubnetPool {
    /// `pool` like `10.213.0.0/16`, cut into subnets of prefix `subnet_len`.
    pub fn new(pool: &str, subnet_len: u8) -> Result<SubnetPool, InvalidPool> {
        let bad = || InvalidPool(format!("{pool} /{subnet_len}"));
        let (addr, len) = pool.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix_len: u8 = len.parse().map_err(|_| bad())?;
        if !(8..=28).contains(&prefix_len) || subnet_len <= prefix_len || subnet_len > 29 {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix_len);
        Ok(SubnetPool {
            base: u32::from(addr) & mask,
            prefix_len,
            subnet_len,
        })
    }

    /// How many subnets the pool holds.
    pub fn len(&self) -> u32 {
        1 << (self.subnet_len - self.prefix_len)
    }

    /// Never true: a valid pool holds at least two subnets.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// A random subnet and its gateway (the first address).
    pub(crate) fn pick(&self) -> Option<(String, String)> {
        let mut b = [0u8; 4];
        SystemRandom::new().fill(&mut b).ok()?;
        let index = u32::from_be_bytes(b) % self.len();
        let net = self.base + (index << (32 - self.subnet_len));
        Some((
            format!("{}/{}", Ipv4Addr::from(net), self.subnet_len),
            Ipv4Addr::from(net + 1).to_string(),
        ))
    }
}

impl fmt::Display for SubnetPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} in /{}",
            Ipv4Addr::from(self.base),
            self.prefix_len,
            self.subnet_len
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_fall_inside_the_pool() {
        let pool = SubnetPool::new("10.213.7.9/16", 28).unwrap();
        assert_eq!(pool.len(), 4096);
        for _ in 0..100 {
            let (subnet, gateway) = pool.pick().unwrap();
            assert!(
                subnet.starts_with("10.213.") && subnet.ends_with("/28"),
                "{subnet}"
            );
            let net: Ipv4Addr = subnet.split('/').next().unwrap().parse().unwrap();
            assert_eq!(u32::from(net) % 16, 0);
            assert_eq!(
                u32::from(gateway.parse::<Ipv4Addr>().unwrap()),
                u32::from(net) + 1
            );
        }
    }

    #[test]
    fn bad_pools_are_refused() {
        for (p, n) in [
            ("10.0.0.0", 28),
            ("10.0.0.0/16", 16),
            ("10.0.0.0/4", 28),
            ("x/16", 28),
            ("10.0.0.0/16", 31),
        ] {
            assert!(SubnetPool::new(p, n).is_err(), "{p} {n}");
        }
    }
}
