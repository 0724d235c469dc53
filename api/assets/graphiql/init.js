// Starts GraphiQL on this server's endpoints. The Headers tab goes with every HTTP request
// and, for subscriptions, in the WebSocket's connection_init payload, so
// {"Authorization": "Bearer nsn_..."} signs in on both.
(function () {
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    subscriptionUrl: scheme + window.location.host + "/graphql/ws",
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, { fetcher: fetcher, defaultEditorToolsVisibility: true }));
})();
