//! Who the client is when requests come through reverse proxies. The TCP peer is the client
//! unless it is one of `NISHAN_TRUSTED_PROXIES` (addresses or CIDRs): then the forwarding
//! header it adds (`X-Forwarded-For`, or `Forwarded` with `NISHAN_FORWARDED_HEADER=forwarded`)
//! is read from the right, hop by hop, skipping trusted proxies, and the first address that is
//! not one is the client. Only what trusted proxies appended is believed: whatever a client
//! writes in the header itself lies to the left of its own address and is never reached; a
//! hop that cannot be read (`unknown`, an obfuscated name, garbage) ends the walk at the last
//! trusted hop. Headers from peers that are not trusted are ignored.

use std::net::IpAddr;

use axum::http::HeaderMap;
use clap::ValueEnum;
use ipnet::IpNet;

/// Which header trusted proxies set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// An address or a CIDR (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`), as `NISHAN_TRUSTED_PROXIES`
/// lists them.
pub fn parse_net(raw: &str) -> Result<IpNet, String> {
    let raw = raw.trim();
    raw.parse::<IpNet>()
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{raw:?} is neither an IP address nor a CIDR"))
}

/// The trusted proxies and the header they set.
#[derive(Debug, Clone, Copy)]
pub struct TrustedProxies<'a> {
    pub nets: &'a [IpNet],
    pub header: ForwardedHeader,
}

impl TrustedProxies<'_> {
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer`, or what trusted proxies say it is.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded(headers),
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            let Some(ip) = hop else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The hops of every `X-Forwarded-For` line, left to right (`None`: unreadable).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text.split(',').map(|hop| address(hop.trim())).collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// The `for=` of every element of every `Forwarded` line, left to right.
fn forwarded(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|value| match value.to_str() {
            Ok(text) => text
                .split(',')
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (name, value) = pair.split_once('=')?;
                        name.trim().eq_ignore_ascii_case("for").then(|| address(value.trim().trim_matches('"')))
                    })?
                })
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
        .collect()
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn address(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok())) {
            return None;
        }
        return inside.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_addresses_and_cidrs() {
        assert_eq!(parse_net("10.0.0.1").unwrap().to_string(), "10.0.0.1/32");
        assert_eq!(parse_net(" 10.0.0.0/8 ").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert!(parse_net("proxy.local").is_err());
    }

    #[test]
    fn believes_trusted_proxies_only() {
        let nets = [parse_net("10.0.0.0/8").unwrap(), parse_net("192.0.2.7").unwrap()];
        let proxies = TrustedProxies { nets: &nets, header: ForwardedHeader::XForwardedFor };
        let xff = headers(&[("x-forwarded-for", "203.0.113.9")]);
        // Not a proxy: its header is ignored.
        assert_eq!(proxies.client(ip("198.51.100.1"), &xff), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &xff), ip("203.0.113.9"));
        // IPv4 peers seen as IPv4-mapped IPv6 addresses are the same peers.
        assert_eq!(proxies.client(ip("::ffff:10.1.2.3"), &xff), ip("203.0.113.9"));
        // What the client wrote itself is left of its own address: never reached.
        let forged = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 192.0.2.7")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &forged), ip("203.0.113.9"));
        // Several header lines are one list.
        let lines = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &lines), ip("203.0.113.9"));
        // An unreadable hop ends the walk at the last trusted hop.
        let garbage = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 192.0.2.7")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &garbage), ip("192.0.2.7"));
        assert_eq!(proxies.client(ip("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
        // The other header is not read.
        let other = headers(&[("forwarded", "for=203.0.113.9")]);
        assert_eq!(proxies.client(ip("10.0.0.5"), &other), ip("10.0.0.5"));
    }

    #[test]
    fn reads_rfc_7239() {
        let nets = [parse_net("10.0.0.0/8").unwrap()];
        let proxies = TrustedProxies { nets: &nets, header: ForwardedHeader::Forwarded };
        let h =
            headers(&[("forwarded", r#"for=198.51.100.3;proto=https, For="[2001:db8:cafe::17]:4711";by=10.0.0.1"#)]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=_hidden, for=10.0.0.9")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &h), ip("10.0.0.9"));
        let h = headers(&[("forwarded", "for=\"198.51.100.3:80\"")]);
        assert_eq!(proxies.client(ip("10.0.0.2"), &h), ip("198.51.100.3"));
    }
}
