// The integration page's chart: documents synced per hour, drawn by Chart.js (served by us,
// allowed by its hash). The data is the page's JSON block; nothing is fetched.
(function () {
  var data = document.getElementById("synced-data");
  var canvas = document.getElementById("synced-chart");
  if (!data || !canvas || !window.Chart) {
    return;
  }
  var rows = JSON.parse(data.textContent);
  new window.Chart(canvas, {
    type: "bar",
    data: {
      labels: rows.map(function (r) { return r.label; }),
      datasets: [{
        label: "Documents synced",
        data: rows.map(function (r) { return r.synced; }),
        backgroundColor: "#13b5ea"
      }]
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { ticks: { autoSkip: true, maxTicksLimit: 8, maxRotation: 0 } },
        y: { beginAtZero: true, ticks: { precision: 0 } }
      }
    }
  });
  canvas.setAttribute("data-drawn", "yes");
})();
