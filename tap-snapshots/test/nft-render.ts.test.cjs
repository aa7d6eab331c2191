/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/nft-render.ts > TAP > fail-closed.json > what it loads beyond the skeleton 1`] = `
@@ after skeleton line 62: add set ip6 qubes qf-log-rate { type ipv6_addr ; flags dynamic,timeout ; size 65535 ; timeout 60s ; }
+ add chain ip qubes qf-vm-10-137-0-5-g0 {
+   counter goto qf-reject comment "vm 10.137.0.5 blocked: rules did not parse"
+ }
+ add chain ip qubes qf-vm-10-137-0-6-g1 {
+   counter goto qf-reject comment "vm 10.137.0.6 rule 1: name did not resolve, blocking from here"
+ }
@@ after skeleton line 64: flush map ip qubes qf-vms
+ add element ip qubes qf-vms { 10.137.0.5 : goto qf-vm-10-137-0-5-g0, 10.137.0.6 : goto qf-vm-10-137-0-6-g1 }

`

exports[`test/nft-render.ts > TAP > fail-closed.json > what the agent answers 1`] = `
Object {
  "applied": Array [
    "10.137.0.6",
  ],
  "failed": Array [
    Object {
      "error": "blocked: invalid port range '443-80' (start above end)",
      "rule": 0,
      "vm": "10.137.0.5",
    },
    Object {
      "error": "nosuch.lab.example: dom0 could not resolve it",
      "name": "nosuch.lab.example",
      "rule": 0,
      "vm": "10.137.0.6",
    },
    Object {
      "error": "nosuch.lab.example: dom0 could not resolve it",
      "name": "nosuch.lab.example",
      "rule": 1,
      "vm": "10.137.0.6",
    },
  ],
  "ok": false,
  "resolved": Object {},
}
`

exports[`test/nft-render.ts > TAP > forwards.json > what it loads beyond the skeleton 1`] = `
@@ after skeleton line 62: add set ip6 qubes qf-log-rate { type ipv6_addr ; flags dynamic,timeout ; size 65535 ; timeout 60s ; }
+ add chain ip qubes qf-vm-10-137-0-2-g0 {
+   counter return comment "vm 10.137.0.2 policy"
+ }
@@ after skeleton line 64: flush map ip qubes qf-vms
+ add element ip qubes qf-vms { 10.137.0.2 : goto qf-vm-10-137-0-2-g0 }
@@ after skeleton line 66: flush chain ip qubes qf-inbound
+ add rule ip qubes qf-dnat meta iifname == "eth0" meta iifname != "vif*" ip saddr == 192.0.2.0/24 fib daddr type == local meta l4proto == tcp tcp dport == 8443 counter dnat to 10.137.0.2:443 comment "forward 0000"
+ add rule ip qubes qf-inbound meta iifname != "vif*" meta oifname == "vif*" ip saddr == 192.0.2.0/24 ip daddr == 10.137.0.2 meta l4proto == tcp tcp dport == 443 ct status dnat counter accept comment "forward 0000"
@@ after skeleton line 71: flush chain ip6 qubes qf-inbound
+ add rule ip6 qubes qf-dnat meta iifname != "vif*" fib daddr type == local meta l4proto == udp udp dport == 5353 counter dnat to [fd09:24ef:4179::a89:2]:53 comment "forward 0001"
+ add rule ip6 qubes qf-inbound meta iifname != "vif*" meta oifname == "vif*" ip6 daddr == fd09:24ef:4179::a89:2 meta l4proto == udp udp dport == 53 ct status dnat counter accept comment "forward 0001"

`

exports[`test/nft-render.ts > TAP > forwards.json > what the agent answers 1`] = `
Object {
  "applied": Array [
    "10.137.0.2",
  ],
  "failed": Array [
    Object {
      "error": "left out: invalid dport '70000' (expected 1-65535)",
      "rule": null,
      "vm": "forward 0002",
    },
  ],
  "ok": false,
  "resolved": Object {},
}
`

exports[`test/nft-render.ts > TAP > mixed.json > what it loads beyond the skeleton 1`] = `
@@ after skeleton line 62: add set ip6 qubes qf-log-rate { type ipv6_addr ; flags dynamic,timeout ; size 65535 ; timeout 60s ; }
+ add chain ip qubes qf-vm-10-137-0-5-g0
+ add set ip qubes qf-vm-10-137-0-5-g0-n0 { type ipv4_addr ; }
+ add element ip qubes qf-vm-10-137-0-5-g0-n0 { 192.0.2.10 }
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == tcp ip daddr == 192.0.2.0/24 tcp dport == 443 counter return comment "vm 10.137.0.5 rule 0"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == tcp ip daddr == @qf-vm-10-137-0-5-g0-n0 tcp dport == 80-90 counter return comment "vm 10.137.0.5 rule 1"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == tcp ip daddr == { 10.139.1.1, 10.139.1.2 } tcp dport == 53 counter return comment "vm 10.137.0.5 rule 2"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == udp ip daddr == { 10.139.1.1, 10.139.1.2 } udp dport == 53 counter return comment "vm 10.137.0.5 rule 2"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == udp udp dport == 1000-2000 counter goto qf-reject comment "vm 10.137.0.5 rule 3"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == icmp icmp type == 8 counter return comment "vm 10.137.0.5 rule 4"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == tcp tcp dport == 5000 counter return comment "vm 10.137.0.5 rule 5"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta l4proto == udp udp dport == 5000 counter return comment "vm 10.137.0.5 rule 5"
+ add rule ip qubes qf-vm-10-137-0-5-g0 meta time < 1900000000 ip daddr == 198.51.100.0/24 counter return comment "vm 10.137.0.5 rule 6"
+ add rule ip qubes qf-vm-10-137-0-5-g0 counter goto qf-reject comment "vm 10.137.0.5 policy"
+ add chain ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1
+ add set ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1-n0 { type ipv6_addr ; }
+ add element ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1-n0 { 2001:db8::10 }
+ add rule ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1 meta l4proto == tcp ip6 daddr == @qf-vm-fd09-24ef-4179--a89-5-g1-n0 tcp dport == 80-90 counter return comment "vm fd09:24ef:4179::a89:5 rule 1"
+ add rule ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1 ip6 daddr == 2001:db8::/32 counter goto qf-reject comment "vm fd09:24ef:4179::a89:5 rule 7"
+ add rule ip6 qubes qf-vm-fd09-24ef-4179--a89-5-g1 counter return comment "vm fd09:24ef:4179::a89:5 policy"
@@ after skeleton line 64: flush map ip qubes qf-vms
+ add element ip qubes qf-vms { 10.137.0.5 : goto qf-vm-10-137-0-5-g0 }
+ flush set ip qubes qf-connected
+ add element ip qubes qf-connected { 10.137.0.5 }
@@ after skeleton line 69: flush map ip6 qubes qf-vms
+ add element ip6 qubes qf-vms { fd09:24ef:4179::a89:5 : goto qf-vm-fd09-24ef-4179--a89-5-g1 }
+ flush set ip6 qubes qf-connected
+ add element ip6 qubes qf-connected { fd09:24ef:4179::a89:5 }
@@ after skeleton line 86: add rule ip qubes qf-antispoof meta iifname == "vif*" fib saddr . iif oif == missing counter drop
+ add rule ip qubes qf-antispoof meta iifname == "vif*" ip saddr != @qf-connected counter drop
+ add rule ip qubes qf-antispoof meta iifname != "vif*" ip saddr == @qf-connected counter drop
@@ after skeleton line 102: add rule ip6 qubes qf-antispoof meta iifname == "vif*" fib saddr . iif oif == missing counter drop
+ add rule ip6 qubes qf-antispoof meta iifname == "vif*" ip6 saddr != @qf-connected counter drop
+ add rule ip6 qubes qf-antispoof meta iifname != "vif*" ip6 saddr == @qf-connected counter drop

`

exports[`test/nft-render.ts > TAP > mixed.json > what the agent answers 1`] = `
Object {
  "applied": Array [
    "10.137.0.5",
    "fd09:24ef:4179::a89:5",
  ],
  "failed": Array [],
  "ok": true,
  "resolved": Object {
    "www.lab.example": Array [
      "192.0.2.10",
      "2001:db8::10",
    ],
  },
}
`

exports[`test/nft-render.ts > TAP > the skeleton: what an empty push loads > the one transaction it loads 1`] = `
add table ip qubes
add chain ip qubes postrouting { type nat hook postrouting priority 100 ; policy accept ; }
add chain ip qubes input { type filter hook input priority 0 ; policy drop ; }
add chain ip qubes forward { type filter hook forward priority 0 ; policy accept ; }
add chain ip qubes custom-input
add chain ip qubes custom-forward
add chain ip qubes custom-dnat { type nat hook prerouting priority -100 ; policy accept ; }
add rule ip qubes postrouting meta oifname == "vif*" accept
add rule ip qubes postrouting meta oif == "lo" accept
add rule ip qubes postrouting meta oifname != "vif*" masquerade
add rule ip qubes input jump custom-input
add rule ip qubes input ct state invalid counter drop
add rule ip qubes input meta iifname == "vif*" meta l4proto == udp udp dport == 68 counter drop
add rule ip qubes input ct state established,related accept
add rule ip qubes input meta iifname == "vif*" meta l4proto == icmp accept
add rule ip qubes input meta iif == "lo" accept
add rule ip qubes input meta iifname == "vif*" counter reject with icmp admin-prohibited
add rule ip qubes input counter
add rule ip qubes forward jump custom-forward
add rule ip qubes forward ct state invalid counter drop
add rule ip qubes forward ct state established,related accept
add rule ip qubes forward meta oifname == "vif*" counter drop
add chain ip qubes qf-forward
add chain ip qubes qf-reject
add chain ip qubes qf-antispoof { type filter hook prerouting priority -300 ; policy accept ; }
add chain ip qubes qf-dnat
add chain ip qubes qf-inbound
add map ip qubes qf-vms { type ipv4_addr : verdict ; }
add map ip qubes qf-vms-update { type ipv4_addr : verdict ; }
add set ip qubes qf-connected { type ipv4_addr ; }
add set ip qubes qf-log-rate { type ipv4_addr ; flags dynamic,timeout ; size 65535 ; timeout 60s ; }
add table ip6 qubes
add chain ip6 qubes postrouting { type nat hook postrouting priority 100 ; policy accept ; }
add chain ip6 qubes input { type filter hook input priority 0 ; policy drop ; }
add chain ip6 qubes forward { type filter hook forward priority 0 ; policy accept ; }
add chain ip6 qubes custom-input
add chain ip6 qubes custom-forward
add chain ip6 qubes custom-dnat { type nat hook prerouting priority -100 ; policy accept ; }
add rule ip6 qubes postrouting meta oifname == "vif*" accept
add rule ip6 qubes postrouting meta oif == "lo" accept
add rule ip6 qubes postrouting meta oifname != "vif*" masquerade
add rule ip6 qubes input jump custom-input
add rule ip6 qubes input ct state invalid counter drop
add rule ip6 qubes input ct state established,related accept
add rule ip6 qubes input meta iifname == "vif*" meta l4proto == ipv6-icmp accept
add rule ip6 qubes input meta iif == "lo" accept
add rule ip6 qubes input meta l4proto == ipv6-icmp accept
add rule ip6 qubes input meta iifname == "vif*" counter reject with icmpv6 admin-prohibited
add rule ip6 qubes input counter
add rule ip6 qubes forward jump custom-forward
add rule ip6 qubes forward ct state invalid counter drop
add rule ip6 qubes forward ct state established,related accept
add rule ip6 qubes forward meta oifname == "vif*" counter drop
add chain ip6 qubes qf-forward
add chain ip6 qubes qf-reject
add chain ip6 qubes qf-antispoof { type filter hook prerouting priority -300 ; policy accept ; }
add chain ip6 qubes qf-dnat
add chain ip6 qubes qf-inbound
add map ip6 qubes qf-vms { type ipv6_addr : verdict ; }
add map ip6 qubes qf-vms-update { type ipv6_addr : verdict ; }
add set ip6 qubes qf-connected { type ipv6_addr ; }
add set ip6 qubes qf-log-rate { type ipv6_addr ; flags dynamic,timeout ; size 65535 ; timeout 60s ; }
flush map ip qubes qf-vms-update
flush map ip qubes qf-vms
flush chain ip qubes qf-dnat
flush chain ip qubes qf-inbound
insert rule ip qubes custom-dnat jump qf-dnat comment "qubes-firewall-agent"
flush map ip6 qubes qf-vms-update
flush map ip6 qubes qf-vms
flush chain ip6 qubes qf-dnat
flush chain ip6 qubes qf-inbound
insert rule ip6 qubes custom-dnat jump qf-dnat comment "qubes-firewall-agent"
flush chain ip qubes qf-forward
flush chain ip qubes qf-reject
flush chain ip qubes qf-antispoof
add rule ip qubes qf-forward jump qf-inbound
add rule ip qubes qf-forward meta iifname != "vif*" return
add rule ip qubes qf-forward meta oifname == "vif*" return
add rule ip qubes qf-forward ct direction == reply return
add rule ip qubes qf-forward ip saddr vmap @qf-vms-update
add rule ip qubes qf-forward ip saddr vmap @qf-vms
add rule ip qubes qf-forward counter goto qf-reject comment "source is no known VM"
add rule ip qubes qf-reject update @qf-log-rate { ip saddr limit rate 10/second burst 20 packets } log prefix "qf-drop" group 11
add rule ip qubes qf-reject meta l4proto == tcp ct state established reject with tcp reset
add rule ip qubes qf-reject reject with icmp admin-prohibited
add rule ip qubes qf-antispoof meta iifname == "vif*" fib saddr . iif oif == missing counter drop
insert rule ip qubes custom-forward jump qf-forward comment "qubes-firewall-agent"
flush chain ip6 qubes qf-forward
flush chain ip6 qubes qf-reject
flush chain ip6 qubes qf-antispoof
add rule ip6 qubes qf-forward jump qf-inbound
add rule ip6 qubes qf-forward meta iifname != "vif*" return
add rule ip6 qubes qf-forward meta oifname == "vif*" return
add rule ip6 qubes qf-forward ct direction == reply return
add rule ip6 qubes qf-forward ip6 saddr vmap @qf-vms-update
add rule ip6 qubes qf-forward ip6 saddr vmap @qf-vms
add rule ip6 qubes qf-forward counter goto qf-reject comment "source is no known VM"
add rule ip6 qubes qf-reject update @qf-log-rate { ip6 saddr limit rate 10/second burst 20 packets } log prefix "qf-drop" group 11
add rule ip6 qubes qf-reject meta l4proto == tcp ct state established reject with tcp reset
add rule ip6 qubes qf-reject reject with icmpv6 admin-prohibited
add rule ip6 qubes qf-antispoof meta iifname == "vif*" ip6 saddr == { fe80::/10, :: } return
add rule ip6 qubes qf-antispoof meta iifname == "vif*" fib saddr . iif oif == missing counter drop
insert rule ip6 qubes custom-forward jump qf-forward comment "qubes-firewall-agent"

`

exports[`test/nft-render.ts > TAP > the skeleton: what an empty push loads > what the agent answers 1`] = `
Object {
  "applied": Array [],
  "failed": Array [],
  "ok": true,
  "resolved": Object {},
}
`
