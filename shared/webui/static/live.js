// live.js follows a server-sent event stream: it calls on[type](data) with
// the parsed JSON of each event and reports the connection state through
// onState("live" | "reconnecting"). EventSource reconnects by itself.
export function follow(url, on, onState) {
  const es = new EventSource(url);
  es.onopen = () => onState && onState("live");
  es.onerror = () => onState && onState("reconnecting");
  for (const type in on) {
    es.addEventListener(type, (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch { return; }
      on[type](data);
    });
  }
  return () => es.close();
}
