import { XMLParser, XMLBuilder } from 'fast-xml-parser'
const xml = `<a x="p &amp; &quot;q&quot; &#66;"><b>&#65;&#x42; &lt; &amp;amp;</b><c>  sp  </c><d><![CDATA[x<y]]></d></a>`
for (const htmlEntities of [false, true]) {
const opts = { preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true, commentPropName: '#comment', htmlEntities }
const tree = new XMLParser(opts).parse(xml)
console.log(JSON.stringify(tree))
console.log(new XMLBuilder({ ...opts, format: true, indentBy: '  ', suppressEmptyNode: true }).build(tree))
}
