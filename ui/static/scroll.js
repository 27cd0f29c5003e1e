// Scroll the cited passage (id "cited-passage", see ui/render.py CITED_ID) into view once it is on the page.
(() => {
  let tries = 0;
  const jump = () => {
    const target = document.getElementById("cited-passage");
    if (target) { target.scrollIntoView({ block: "center" }); }
    else if (tries++ < 50) { setTimeout(jump, 100); }
  };
  jump();
})();
