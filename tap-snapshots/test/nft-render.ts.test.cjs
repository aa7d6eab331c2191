/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`test/nft-render.ts > TAP > fail-closed.json > the one transaction it loads 1`] = `
Object {
  "nftables": Array [
    Object {
      "add": Object {
        "table": Object {
          "family": "ip",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 68,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "table": Object {
          "family": "ip6",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip6",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    Object {
                      "prefix": Object {
                        "addr": "fe80::",
                        "len": 10,
                      },
                    },
                    "::",
                  ],
                },
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-vm-10-137-0-5-g0",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 blocked: rules did not parse",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            Array [
              "10.137.0.5",
              Object {
                "goto": Object {
                  "target": "qf-vm-10-137-0-5-g0",
                },
              },
            ],
          ],
          "family": "ip",
          "name": "qf-vms",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-vm-10-137-0-6-g1",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-6-g1",
          "comment": "vm 10.137.0.6 rule 1: name did not resolve, blocking from here",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            Array [
              "10.137.0.6",
              Object {
                "goto": Object {
                  "target": "qf-vm-10-137-0-6-g1",
                },
              },
            ],
          ],
          "family": "ip",
          "name": "qf-vms",
          "table": "qubes",
        },
      },
    },
  ],
}
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

exports[`test/nft-render.ts > TAP > forwards.json > the one transaction it loads 1`] = `
Object {
  "nftables": Array [
    Object {
      "add": Object {
        "table": Object {
          "family": "ip",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 68,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-dnat",
          "comment": "forward 0000",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "eth0",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "prefix": Object {
                    "addr": "192.0.2.0",
                    "len": 24,
                  },
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "daddr",
                    ],
                    "result": "type",
                  },
                },
                "op": "==",
                "right": "local",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": 8443,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "dnat": Object {
                "addr": "10.137.0.2",
                "port": 443,
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-inbound",
          "comment": "forward 0000",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "prefix": Object {
                    "addr": "192.0.2.0",
                    "len": 24,
                  },
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": "10.137.0.2",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": 443,
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "status",
                  },
                },
                "op": "in",
                "right": Array [
                  "dnat",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "table": Object {
          "family": "ip6",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip6",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    Object {
                      "prefix": Object {
                        "addr": "fe80::",
                        "len": 10,
                      },
                    },
                    "::",
                  ],
                },
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-dnat",
          "comment": "forward 0001",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "daddr",
                    ],
                    "result": "type",
                  },
                },
                "op": "==",
                "right": "local",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 5353,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "dnat": Object {
                "addr": "fd09:24ef:4179::a89:2",
                "port": 53,
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-inbound",
          "comment": "forward 0001",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": "fd09:24ef:4179::a89:2",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 53,
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "status",
                  },
                },
                "op": "in",
                "right": Array [
                  "dnat",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-vm-10-137-0-2-g0",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-2-g0",
          "comment": "vm 10.137.0.2 policy",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            Array [
              "10.137.0.2",
              Object {
                "goto": Object {
                  "target": "qf-vm-10-137-0-2-g0",
                },
              },
            ],
          ],
          "family": "ip",
          "name": "qf-vms",
          "table": "qubes",
        },
      },
    },
  ],
}
`

exports[`test/nft-render.ts > TAP > forwards.json > what the agent answers 1`] = `
Object {
  "applied": Array [
    "10.137.0.2",
  ],
  "failed": Array [
    Object {
      "error": "left out: invalid port '70000' (expected a number 0-65535)",
      "rule": null,
      "vm": "forward 0002",
    },
  ],
  "ok": false,
  "resolved": Object {},
}
`

exports[`test/nft-render.ts > TAP > mixed.json > the one transaction it loads 1`] = `
Object {
  "nftables": Array [
    Object {
      "add": Object {
        "table": Object {
          "family": "ip",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 68,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmp",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "set": Object {
          "family": "ip",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv4_addr",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            "10.137.0.5",
          ],
          "family": "ip",
          "name": "qf-connected",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
                "op": "!=",
                "right": "@qf-connected",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": "@qf-connected",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "table": Object {
          "family": "ip6",
          "name": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "postrouting",
          "name": "postrouting",
          "policy": "accept",
          "prio": 100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "input",
          "name": "input",
          "policy": "drop",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "forward",
          "name": "forward",
          "policy": "accept",
          "prio": 0,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-input",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "custom-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "custom-dnat",
          "policy": "accept",
          "prio": -100,
          "table": "qubes",
          "type": "nat",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "postrouting",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "masquerade": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-input",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iif",
                  },
                },
                "op": "==",
                "right": "lo",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "ipv6-icmp",
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "input",
          "expr": Array [
            Object {
              "counter": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "custom-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "invalid",
                ],
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                  "related",
                ],
              },
            },
            Object {
              "accept": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-forward",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-reject",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "hook": "prerouting",
          "name": "qf-antispoof",
          "policy": "accept",
          "prio": -300,
          "table": "qubes",
          "type": "filter",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "flush": Object {
        "map": Object {
          "family": "ip6",
          "map": "verdict",
          "name": "qf-vms-update",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "set": Object {
          "family": "ip6",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-inbound",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "oifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "direction",
                  },
                },
                "op": "==",
                "right": "reply",
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms-update",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "expr": Array [
            Object {
              "vmap": Object {
                "data": "@qf-vms",
                "key": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-forward",
          "comment": "source is no known VM",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "ct": Object {
                    "key": "state",
                  },
                },
                "op": "in",
                "right": Array [
                  "established",
                ],
              },
            },
            Object {
              "reject": Object {
                "type": "tcp reset",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-reject",
          "expr": Array [
            Object {
              "reject": Object {
                "expr": "admin-prohibited",
                "type": "icmpv6",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    Object {
                      "prefix": Object {
                        "addr": "fe80::",
                        "len": 10,
                      },
                    },
                    "::",
                  ],
                },
              },
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "fib": Object {
                    "flags": Array [
                      "saddr",
                      "iif",
                    ],
                    "result": "oif",
                  },
                },
                "op": "==",
                "right": false,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "set": Object {
          "family": "ip6",
          "name": "qf-connected",
          "table": "qubes",
          "type": "ipv6_addr",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            "fd09:24ef:4179::a89:5",
          ],
          "family": "ip6",
          "name": "qf-connected",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "==",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
                "op": "!=",
                "right": "@qf-connected",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-antispoof",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "iifname",
                  },
                },
                "op": "!=",
                "right": "vif*",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "saddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": "@qf-connected",
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "drop": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-forward",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-forward",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "insert": Object {
        "rule": Object {
          "chain": "custom-dnat",
          "comment": "qubes-firewall-agent",
          "expr": Array [
            Object {
              "jump": Object {
                "target": "qf-dnat",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-dnat",
          "table": "qubes",
        },
      },
    },
    Object {
      "flush": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-inbound",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip",
          "name": "qf-vm-10-137-0-5-g0",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 0",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "prefix": Object {
                    "addr": "192.0.2.0",
                    "len": 24,
                  },
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": 443,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 1",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    "192.0.2.10",
                  ],
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": Object {
                  "range": Array [
                    80,
                    90,
                  ],
                },
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 2",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    "10.139.1.1",
                    "10.139.1.2",
                  ],
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": 53,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 2",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    "10.139.1.1",
                    "10.139.1.2",
                  ],
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 53,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 3",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": Object {
                  "range": Array [
                    1000,
                    2000,
                  ],
                },
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 4",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "icmp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "type",
                    "protocol": "icmp",
                  },
                },
                "op": "==",
                "right": 8,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 5",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": 5000,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 5",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "udp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "udp",
                  },
                },
                "op": "==",
                "right": 5000,
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 rule 6",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "time",
                  },
                },
                "op": "<",
                "right": 1900000000,
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip",
                  },
                },
                "op": "==",
                "right": Object {
                  "prefix": Object {
                    "addr": "198.51.100.0",
                    "len": 24,
                  },
                },
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-10-137-0-5-g0",
          "comment": "vm 10.137.0.5 policy",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            Array [
              "10.137.0.5",
              Object {
                "goto": Object {
                  "target": "qf-vm-10-137-0-5-g0",
                },
              },
            ],
          ],
          "family": "ip",
          "name": "qf-vms",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "chain": Object {
          "family": "ip6",
          "name": "qf-vm-fd09-24ef-4179--a89-5-g1",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-fd09-24ef-4179--a89-5-g1",
          "comment": "vm fd09:24ef:4179::a89:5 rule 1",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "meta": Object {
                    "key": "l4proto",
                  },
                },
                "op": "==",
                "right": "tcp",
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": Object {
                  "set": Array [
                    "2001:db8::10",
                  ],
                },
              },
            },
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "dport",
                    "protocol": "tcp",
                  },
                },
                "op": "==",
                "right": Object {
                  "range": Array [
                    80,
                    90,
                  ],
                },
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-fd09-24ef-4179--a89-5-g1",
          "comment": "vm fd09:24ef:4179::a89:5 rule 7",
          "expr": Array [
            Object {
              "match": Object {
                "left": Object {
                  "payload": Object {
                    "field": "daddr",
                    "protocol": "ip6",
                  },
                },
                "op": "==",
                "right": Object {
                  "prefix": Object {
                    "addr": "2001:db8::",
                    "len": 32,
                  },
                },
              },
            },
            Object {
              "counter": null,
            },
            Object {
              "goto": Object {
                "target": "qf-reject",
              },
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "rule": Object {
          "chain": "qf-vm-fd09-24ef-4179--a89-5-g1",
          "comment": "vm fd09:24ef:4179::a89:5 policy",
          "expr": Array [
            Object {
              "counter": null,
            },
            Object {
              "return": null,
            },
          ],
          "family": "ip6",
          "table": "qubes",
        },
      },
    },
    Object {
      "add": Object {
        "element": Object {
          "elem": Array [
            Array [
              "fd09:24ef:4179::a89:5",
              Object {
                "goto": Object {
                  "target": "qf-vm-fd09-24ef-4179--a89-5-g1",
                },
              },
            ],
          ],
          "family": "ip6",
          "name": "qf-vms",
          "table": "qubes",
        },
      },
    },
  ],
}
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
