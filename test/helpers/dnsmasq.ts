// The tests' DNS server on loopback: the app's own dnsmasq runner (src-main/net/dnsmasq.ts).
export { DNSMASQ_BIN, Dnsmasq, type SrvRecord } from '../../src-main/net/dnsmasq.js';
