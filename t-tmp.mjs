const neu = await import('./dist/inspect/injection/features.js');
const { mixedTexts } = await import('./dist/inspect/fixtures/mixed.js');
const { shippedClassifier } = await import('./dist/inspect/injection/classifier.js');
const texts = mixedTexts(200); const c = shippedClassifier();
for (let k=0;k<10;k++) for (const t of texts) c.detect(t);
let t0=process.cpuUsage(); for (let k=0;k<10;k++) for (const t of texts) neu.features(t); let u=process.cpuUsage(t0); console.log('features', ((u.user+u.system)/2000/1000).toFixed(3),'ms/text');
t0=process.cpuUsage(); for (let k=0;k<10;k++) for (const t of texts) c.detect(t); u=process.cpuUsage(t0); console.log('detect', ((u.user+u.system)/2000/1000).toFixed(3),'ms/text', (4096/((u.user+u.system)/2000)).toFixed(1), 'MB/s');
