// How big a push may be: bounds checked before anything is parsed, so a huge push costs no work.
// The daemon bounds its request lines by the same figures.

// /connected-ips lists every VM a netvm serves: it may be long, a rule never is
export const LIMITS = { entries: 200_000, keyLength: 512, valueLength: 8192, addressListLength: 4 * 1024 * 1024, rulesPerVm: 10_000 }
