import { XMLParser, XMLBuilder } from 'fast-xml-parser'
const xml = `<?xml version='1.0' encoding='UTF-8'?>
<!-- top comment -->
<qubes>
  <labels>
    <label color="0xcc0000" id="label-1">red</label>
  </labels>
  <properties>
    <property name="default_netvm">sys-firewall</property>
  </properties>
  <domains>
    <domain class="AppVM" id="domain-1">
      <properties>
        <property name="qid">1</property>
        <property name="label" ref="label-1"/>
        <property name="netvm"></property>
        <property name="comment">a &amp; b &lt;c&gt; "q" 'a' &#65;</property>
      </properties>
      <features/>
      <tags>
        <tag name="created-by-dom0"/>
      </tags>
    </domain>
  </domains>
</qubes>
`
const opts = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true, commentPropName: '#comment' }
const tree = new XMLParser(opts).parse(xml)
console.log(JSON.stringify(tree))
const out = new XMLBuilder({ ...opts, format: true, indentBy: '  ', suppressEmptyNode: true }).build(tree)
console.log(out)
