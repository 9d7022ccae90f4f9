// Node 20 lacks Promise.withResolvers, which js-libp2p 3 needs.
if (!Promise.withResolvers) Promise.withResolvers = () => { let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b }); return { promise, resolve, reject } }
